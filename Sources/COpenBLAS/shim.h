// OpenBLAS CBLAS interface, pkg-config `openblas`, Debian package `libopenblas-dev`.
#ifndef INTERNVL_COPENBLAS_SHIM_H
#define INTERNVL_COPENBLAS_SHIM_H
#include <cblas.h>
// Declared by OpenBLAS's own cblas.h; repeated here for builds against the reference cblas.h.
char *openblas_get_corename(void);
char *openblas_get_config(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);
#endif
