.intel_syntax noprefix
.set BASE, 0x400000
.section .text
ehdr:
  .byte 0x7f, 'E', 'L', 'F', 2, 1, 1, 0
  .quad 0
  .word 2, 0x3e
  .long 1
  .quad BASE + (start - ehdr)
  .quad phdr - ehdr
  .quad 0
  .long 0
  .word 64, 56, 1, 0, 0, 0
phdr:
  .long 1, 5
  .quad 0
  .quad BASE, BASE
  .quad end - ehdr, end - ehdr
  .quad 0x1000
start:
  mov rdi, [rsp+8]
  test rdi, rdi
  jz refuse
  mov rax, [rdi]
  movabs rcx, 0x636578656f6b6168
  cmp rax, rcx
  jne refuse
  mov rdi, [rsp+16]
  lea rsi, [rsp+24]
  mov rax, [rsp]
  lea rdx, [rsp+rax*8+16]
  mov eax, 59
  syscall
  # execve failed: rax = -errno, rdi = path. "hako: exec PATH: errno N\n" on stderr.
  mov r12, rdi
  neg rax
  mov r13, rax
  lea rsi, [rip+pre]
  mov edx, 11
  call wr
  mov rsi, r12
  xor edx, edx
1:
  cmp byte ptr [rsi+rdx], 0
  je 2f
  inc rdx
  jmp 1b
2:
  call wr
  lea rsi, [rip+mid]
  mov edx, 8
  call wr
  sub rsp, 32
  lea rsi, [rsp+31]
  mov byte ptr [rsi], 10
  mov rax, r13
  mov ecx, 10
3:
  xor edx, edx
  div rcx
  add dl, 48
  dec rsi
  mov [rsi], dl
  test rax, rax
  jnz 3b
  lea rdx, [rsp+32]
  sub rdx, rsi
  call wr
  # 127 when the program is missing (ENOENT), 126 when it cannot be executed.
  mov edi, 126
  cmp r13, 2
  jne exit
refuse:
  mov edi, 127
exit:
  mov eax, 231
  syscall
wr:
  mov edi, 2
  mov eax, 1
  syscall
  ret
pre: .ascii "hako: exec "
mid: .ascii ": errno "
end:
