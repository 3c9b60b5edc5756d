/* mz-login SERVICE USER CONFDIR: one real PAM login (authenticate, then account) with
 * the service file from CONFDIR (pam_start_confdir), answering prompts from the
 * terminal or stdin. For ./quickstart demo; /etc/pam.d is never read. */
#include "config.h"

#include <locale.h>
#include <security/pam_appl.h>
#include <security/pam_misc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mz-login SERVICE USER CONFDIR\n");
        return 2;
    }
    setlocale(LC_ALL, ""); /* as login(1) does: the module's messages follow LANG */
    struct pam_conv conv = {misc_conv, NULL};
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir(argv[1], argv[2], &conv, argv[3], &pamh);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_start_confdir: %s\n", pam_strerror(pamh, rc));
        return 1;
    }
    rc = pam_authenticate(pamh, 0);
    printf("pam_authenticate: %s\n", pam_strerror(pamh, rc));
    if (rc == PAM_SUCCESS) {
        rc = pam_acct_mgmt(pamh, 0);
        printf("pam_acct_mgmt: %s\n", pam_strerror(pamh, rc));
    }
    pam_end(pamh, rc);
    return rc == PAM_SUCCESS ? 0 : 1;
}
