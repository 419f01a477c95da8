// SPDX-License-Identifier: GPL-2.0
/*
 * trace.c - instantiates keyvault's tracepoints (trace.h) and gives Rust
 * one flat function per event (kmod/trace.rs wraps them).
 */
#include <linux/cred.h>
#include <linux/uidgid.h>

#include "glue.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

void kv_trace_key_create(u64 key_id, u32 algorithm, u32 bits, u32 how, u64 parent)
{
	trace_keyvault_key_create(key_id, algorithm, bits, how, parent);
}

void kv_trace_key_destroy(u64 key_id)
{
	trace_keyvault_key_destroy(key_id);
}

void kv_trace_key_revoke(u64 key_id)
{
	trace_keyvault_key_revoke(key_id);
}

void kv_trace_key_expire(u64 key_id)
{
	trace_keyvault_key_expire(key_id);
}

void kv_trace_op(u32 op, u64 key_id, u64 len, int err)
{
	trace_keyvault_op(op, key_id, len, err);
}

void kv_trace_cap_denied(u32 op, u32 wanted, u32 have)
{
	trace_keyvault_cap_denied(op, wanted, have);
}
