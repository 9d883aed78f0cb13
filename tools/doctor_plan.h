/*
 * doctor_plan: the plan moetier would make here (tiering/plan.h), for
 * `moetier doctor [MODEL.gguf]`: the same gathering of this machine's facts
 * and the same moetier_plan_make and lines as the runtime, with the
 * configuration from this environment. What only a run knows is assumed and
 * said: placements (the first decode), whether the binary locks its memory or
 * loads CUDA, whether llama.cpp's routing callback works.
 */
#ifndef MOETIER_TOOLS_DOCTOR_PLAN_H
#define MOETIER_TOOLS_DOCTOR_PLAN_H

#include "common/json.h"

/* The plan as text (a "plan:" section); model may be NULL (only what the
 * machine decides). 0, or -1 when the model cannot be read (message on stderr). */
int doctor_plan_text(const char *model);
/* The same as the value of a "plan" key. */
int doctor_plan_json(struct json *j, const char *model);

#endif
