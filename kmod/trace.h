/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of keyvault: every key event and every operation, visible in
 * /sys/kernel/tracing/events/keyvault/ and to bpftrace (tracepoint:keyvault:*).
 * No event ever carries key material: ids, algorithms, lengths, errnos.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM keyvault

#if !defined(_KEYVAULT_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KEYVAULT_TRACE_H

#include <linux/tracepoint.h>

/* A key came to be: how is 0 genkey, 1 import, 2 derive, 3 exchange,
 * 4 unwrap, 5 keyring (IMPORT_KEYRING). */
TRACE_EVENT(keyvault_key_create,
	TP_PROTO(u64 key_id, u32 algorithm, u32 bits, u32 how, u64 parent),
	TP_ARGS(key_id, algorithm, bits, how, parent),
	TP_STRUCT__entry(
		__field(u64, key_id)
		__field(u32, algorithm)
		__field(u32, bits)
		__field(u32, how)
		__field(u64, parent)
		__field(u32, uid)
	),
	TP_fast_assign(
		__entry->key_id = key_id;
		__entry->algorithm = algorithm;
		__entry->bits = bits;
		__entry->how = how;
		__entry->parent = parent;
		__entry->uid = from_kuid(&init_user_ns, current_euid());
	),
	TP_printk("key=%llu alg=%u bits=%u how=%s parent=%llu uid=%u",
		  __entry->key_id, __entry->algorithm, __entry->bits,
		  __print_symbolic(__entry->how, { 0, "genkey" }, { 1, "import" },
				   { 2, "derive" }, { 3, "exchange" }, { 4, "unwrap" },
				   { 5, "keyring" }),
		  __entry->parent, __entry->uid)
);

/* A key's lifecycle: destroy = its material was wiped (last reference gone). */
DECLARE_EVENT_CLASS(keyvault_key_event,
	TP_PROTO(u64 key_id),
	TP_ARGS(key_id),
	TP_STRUCT__entry(__field(u64, key_id)),
	TP_fast_assign(__entry->key_id = key_id;),
	TP_printk("key=%llu", __entry->key_id)
);
DEFINE_EVENT(keyvault_key_event, keyvault_key_destroy, TP_PROTO(u64 key_id), TP_ARGS(key_id));
DEFINE_EVENT(keyvault_key_event, keyvault_key_revoke, TP_PROTO(u64 key_id), TP_ARGS(key_id));
DEFINE_EVENT(keyvault_key_event, keyvault_key_expire, TP_PROTO(u64 key_id), TP_ARGS(key_id));

/* Every ioctl, on every exit path: op is the ioctl number (_IOC_NR). */
TRACE_EVENT(keyvault_op,
	TP_PROTO(u32 op, u64 key_id, u64 len, int err),
	TP_ARGS(op, key_id, len, err),
	TP_STRUCT__entry(
		__field(u32, op)
		__field(u64, key_id)
		__field(u64, len)
		__field(int, err)
		__field(u32, uid)
	),
	TP_fast_assign(
		__entry->op = op;
		__entry->key_id = key_id;
		__entry->len = len;
		__entry->err = err;
		__entry->uid = from_kuid(&init_user_ns, current_euid());
	),
	TP_printk("op=0x%x key=%llu len=%llu err=%d uid=%u", __entry->op,
		  __entry->key_id, __entry->len, __entry->err, __entry->uid)
);

/* A capability check failed. */
TRACE_EVENT(keyvault_cap_denied,
	TP_PROTO(u32 op, u32 wanted, u32 have),
	TP_ARGS(op, wanted, have),
	TP_STRUCT__entry(
		__field(u32, op)
		__field(u32, wanted)
		__field(u32, have)
	),
	TP_fast_assign(
		__entry->op = op;
		__entry->wanted = wanted;
		__entry->have = have;
	),
	TP_printk("op=0x%x wanted=0x%x have=0x%x", __entry->op,
		  __entry->wanted, __entry->have)
);

#endif /* _KEYVAULT_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
