// ZeroMQ (libzmq), Debian package `libzmq3-dev`. Not found through pkg-config on purpose: Debian's libzmq.pc
// adds -isystem flags (Kerberos) that SwiftPM refuses; zmq.h and libzmq.so sit in the default paths.
#ifndef INTERNVL_CZEROMQ_SHIM_H
#define INTERNVL_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
