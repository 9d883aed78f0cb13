/* placeholder, replaced by the real command */
#include "tools/cli.h"
int cmd_inspect(int argc, char **argv) { (void)argc; (void)argv; return cli_error(CLI_FAIL, "inspect", "not built yet"); }
