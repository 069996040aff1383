// Umbrella header of the CKernels target: hand-written SIMD kernels with run-time CPU dispatch.
#ifndef CKERNELS_H
#define CKERNELS_H
#include "ck_cpu.h"
#include "ck_ops_activation.h"
#include "ck_ops_attention.h"
#include "ck_ops_norm.h"
#include "ck_ops_pixel_shuffle.h"
#include "ck_ops_rope.h"
#include "ck_ops_softmax.h"
#include "ck_pool.h"
#include "ck_quant.h"
#include "ck_matmul.h"
#include "ck_bandwidth.h"
#endif
