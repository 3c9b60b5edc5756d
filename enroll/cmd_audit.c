/* mnzone-enroll audit: not written yet. */
#include "config.h"

#include "enroll.h"

int cmd_audit(struct enroll *en, int argc, char **argv)
{
    (void)en;
    (void)argc;
    (void)argv;
    return enroll_usage("audit", "%s", _("not available in this version"));
}
