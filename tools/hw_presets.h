/*
 * hw_presets: the machines `moetier sim` models (docs/sim.md cites every
 * figure). A machine is named "DRAM+SLOW[+GPU]" from presets, in any order;
 * a slow tier alone brings its usual DRAM; `this` is the machine profile
 * `moetier bench` writes (its DRAM and its file tier, for the parts not named).
 */
#ifndef MOETIER_TOOLS_HW_PRESETS_H
#define MOETIER_TOOLS_HW_PRESETS_H

#include "tiering/tier_model.h"

#include <stddef.h>

struct hw_machine {
    struct moetier_machine m;
    int memory_mode;      /* the slow tier can be DRAM-cached by hardware (Optane) */
    char dram[48], slow[80], gpu[48], cpu[64]; /* what each part is */
};

/* "ddr4-2666x6, ..." for messages and --help */
const char *hw_preset_names(void);

/* The profile `moetier bench` writes: $XDG_STATE_HOME/moetier/machine.json,
 * else ~/.local/state/moetier/machine.json (into buf). */
const char *hw_profile_path(char *buf, size_t cap);

/*
 * Builds the machine `spec` names ("ddr4-2666x6+optane-6dimm", "this",
 * "nvme-gen4+rtx3060-12g"); `profile` is the machine profile for `this`
 * (NULL: hw_profile_path). Keys missing from the profile fall back with a note
 * on stderr. Returns 0, or -EINVAL / -ENOENT with one line in err.
 */
int hw_machine_parse(const char *spec, const char *profile, struct hw_machine *out, char *err, size_t errcap);

#endif
