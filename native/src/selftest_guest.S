/*
 * Guest program for the KVM self-test (see kvm_linux.cc).
 *
 * It is loaded at guest-physical 0x1000 and started in real mode, like a
 * freshly reset x86 CPU. It walks the path every stock kernel's early boot
 * walks — real mode -> 32-bit protected mode -> paging + long mode -> a
 * kernel-half virtual address — and reports each step with `out` to port
 * 0x10 (one byte: the stage number). Then it runs a timed busy loop in
 * supervisor mode (CPL0), drops to user mode (CPL3) with iretq and runs the
 * same loop there. The host times both loops: on hardware virtualization
 * (VT-x / AMD-V) they run at the same native speed; a backend that
 * emulates supervisor code is orders of magnitude slower in the first.
 *
 * Layout (guest-physical): code 0x1000.., stack 0x7000/0x8000,
 * page tables 0x10000 (PML4), 0x11000 (PDPT low), 0x12000 (PD, one 2 MiB
 * page), 0x13000 (PDPT high).
 *
 * Regenerate the C header with: node scripts/gen-guest.mjs (needs binutils).
 */
#define LOOP_ITERATIONS 4000000
#define BASE 0x1000
#define ABS(x) ((x) - start + BASE)

	.text
	.code16
start:
	mov	$1, %al			/* stage 1: real mode */
	out	%al, $0x10
	cli
	lgdtl	ABS(gdtr)
	mov	%cr0, %eax
	or	$1, %eax		/* CR0.PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $ABS(pm32)

	.code32
pm32:
	mov	$0x10, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %ss
	mov	$0x8000, %esp
	mov	$2, %al			/* stage 2: protected mode */
	out	%al, $0x10
	/* identity map of the first 2 MiB (user-accessible) */
	movl	$0x11007, 0x10000
	movl	$0, 0x10004
	movl	$0x12007, 0x11000
	movl	$0, 0x11004
	movl	$0x87, 0x12000
	movl	$0, 0x12004
	/* the same 2 MiB at 0xffffffff80000000, where a kernel lives */
	movl	$0x13003, 0x10000 + 511 * 8
	movl	$0, 0x10004 + 511 * 8
	movl	$0x12003, 0x13000 + 510 * 8
	movl	$0, 0x13004 + 510 * 8
	mov	%cr4, %eax
	or	$0x20, %eax		/* CR4.PAE */
	mov	%eax, %cr4
	mov	$0x10000, %eax
	mov	%eax, %cr3
	mov	$0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	or	$0x100, %eax
	wrmsr
	mov	$3, %al			/* stage 3: paging set up */
	out	%al, $0x10
	mov	%cr0, %eax
	or	$0x80000000, %eax	/* CR0.PG */
	mov	%eax, %cr0
	ljmp	$0x18, $ABS(lm64)

	.code64
lm64:
	mov	$4, %al			/* stage 4: long mode */
	out	%al, $0x10
	movabs	$(0xffffffff80000000 + ABS(high)), %rax
	jmp	*%rax
high:
	mov	$5, %al			/* stage 5: kernel half, loop starts */
	out	%al, $0x10
	mov	$LOOP_ITERATIONS, %ecx
1:	dec	%ecx
	jnz	1b
	mov	$6, %al			/* stage 6: kernel loop done */
	out	%al, $0x10
	mov	$0x8000, %rsp
	pushq	$0x23			/* SS: user data */
	pushq	$0x7000			/* RSP */
	pushq	$0x3002			/* RFLAGS: IOPL=3 so `out` works */
	pushq	$0x2b			/* CS: user code */
	pushq	$ABS(user)
	iretq
user:
	mov	$7, %al			/* stage 7: user mode, loop starts */
	out	%al, $0x10
	mov	$LOOP_ITERATIONS, %ecx
2:	dec	%ecx
	jnz	2b
	mov	$8, %al			/* stage 8: user loop done */
	out	%al, $0x10
3:	jmp	3b

	.p2align 3
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08 code32 */
	.quad	0x00cf92000000ffff	/* 0x10 data */
	.quad	0x00af9a000000ffff	/* 0x18 code64 */
	.quad	0x00cff2000000ffff	/* 0x23 user data */
	.quad	0x00affa000000ffff	/* 0x2b user code64 */
gdtr:
	.word	gdtr - gdt - 1
	.long	ABS(gdt)
