# keyvault: the two commands are `make run` and `make test` (see README.md).
#
#   make                   build keyvault.ko against the cached test kernel
#   make KDIR=/path/build  build keyvault.ko against your own Rust-enabled kernel
#   make run               boot the test VM with the module loaded, show it working
#   make test              every test: host (cargo test), then the VM suite (real ioctls
#                          + 30 s of the ioctl fuzzer) on the release kernel, keys sealed by
#                          a TPM across reboots (scripts/test-tpm, swtpm; release, Debian's
#                          and debug kernels), the harness's failure paths (a VM that
#                          panics, one that hangs), the packages and the VM suite on
#                          Debian's own 7.3 kernel, and the debug kernel
#   make test-quick        host + release kernel only, its TPM boots included (the quick loop)
#   make test-debug        the VM suite on the KASAN + lockdep + kmemleak kernel (clang-built) only
#   make test-distro       packages + DKMS install in a clean Debian 13, then the VM suite on
#                          Debian's unmodified 7.3.4+deb13-amd64 kernel with that module
#   make deb               the Debian packages (keyvault-dkms, kvctl, libkeyvault-dev) in target/deb/
#   make stress            the hardening run on the debug kernel: the race tests x10 and
#                          1,000,000 fuzzer ioctls, then rmmod and kmemleak
#   make vm CMD='...'      run a command in the VM with the module loaded
#   make bench             keyvault vs AF_ALG, a key agent and in-process crypto, in the VM (bench/results/)
#   make bench KERNEL=distro   the same on Debian's own 7.3 kernel (bench/results/distro-*)
#   make clean             remove build products (the kernel cache stays in ~/.cache/keyvault)
#
# When Kbuild re-enters this directory (M=...), it reads Kbuild, not this file.

SHELL := /bin/bash
KDIR ?=

.PHONY: all module userspace run test test-quick test-debug test-distro deb stress vm clean
all: module

module:
ifeq ($(KDIR),)
	@scripts/build-module
else
	@scripts/build-module $(KDIR)
endif

userspace:
	@scripts/deps
	@scripts/build-userspace

run: userspace
	@scripts/vm $$( [ -t 0 ] && [ -t 1 ] && [ -z "$$CI" ] && echo --interactive ) -- scripts/demo

test:
	@scripts/deps
	@scripts/test

test-quick:
	@scripts/deps
	@scripts/test --quick

test-debug:
	@scripts/deps
	@scripts/test-debug

test-distro:
	@scripts/deps
	@scripts/test-distro

deb:
	@scripts/deps
	@scripts/build-deb

stress:
	@scripts/deps
	@scripts/stress

vm: userspace
	@scripts/vm -- $(CMD)

.PHONY: bench
KERNEL ?= release
bench: userspace
	@scripts/bench --kernel $(KERNEL)

clean:
	@rm -rf target .kv-kdir keyvault.ko keyvault.mod keyvault.mod.c keyvault.mod.o keyvault.o \
		modules.order Module.symvers .module-common.o .*.cmd kmod/*.o kmod/.*.cmd kmod/*.rmeta kmod/*.d
