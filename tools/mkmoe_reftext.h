/*
 * mkmoe_reftext: a short English reference text, written for moetier, whose
 * token frequencies stand in for "typical text" when mkmoe calibrates router
 * biases (routing in generated models is mostly a function of the token, so
 * expert popularity depends on which tokens text is made of). Tests measure the
 * shaping on a different text (data/text/), so this is not fitted to the test.
 */
#ifndef MOETIER_TOOLS_MKMOE_REFTEXT_H
#define MOETIER_TOOLS_MKMOE_REFTEXT_H

extern const char mkmoe_reftext[];

#endif
