// Umbrella header of the CKernels target: hand-written SIMD kernels with run-time CPU dispatch.
#ifndef CKERNELS_H
#define CKERNELS_H
#include "ck_cpu.h"
#include "ck_pool.h"
#include "ck_quant.h"
#include "ck_matmul.h"
#include "ck_bandwidth.h"
#endif
