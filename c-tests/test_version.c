/* The header and the library agree on the version. */
#include "eko.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define STR2(x) #x
#define STR(x) STR2(x)

static bool test_abi_version(void) {
    return EKO_abi_version() == EKO_ABI_VERSION;
}

static bool test_version_string(void) {
    const char *expected = STR(EKO_VERSION_MAJOR) "." STR(EKO_VERSION_MINOR) "." STR(EKO_VERSION_PATCH);
    const char *version = EKO_version();
    return version != NULL && strcmp(version, expected) == 0;
}

int main(void) {
    struct {
        const char *name;
        bool (*run)(void);
    } tests[] = {
        {"abi_version", test_abi_version},
        {"version_string", test_version_string},
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        bool ok = tests[i].run();
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
