/* mnzone-enroll report: not written yet. */
#include "config.h"

#include "enroll.h"

int cmd_report(struct enroll *en, int argc, char **argv)
{
    (void)en;
    (void)argc;
    (void)argv;
    return enroll_usage("report", "%s", _("not available in this version"));
}
