// Image codecs: libjpeg-turbo's TurboJPEG API (Debian `libturbojpeg0-dev`, pkg-config `libturbojpeg`)
// and libpng (Debian `libpng-dev`, pkg-config `libpng`).
#ifndef INTERNVL_CIMAGECODECS_SHIM_H
#define INTERNVL_CIMAGECODECS_SHIM_H
#include <turbojpeg.h>
#include <png.h>
#endif
