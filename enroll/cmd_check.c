/* mnzone-enroll check: not written yet. */
#include "config.h"

#include "enroll.h"

int cmd_check(struct enroll *en, int argc, char **argv)
{
    (void)en;
    (void)argc;
    (void)argv;
    return enroll_usage("check", "%s", _("not available in this version"));
}
