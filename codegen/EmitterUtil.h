//===- codegen/EmitterUtil.h - Loops for the kernel emitters ----*- C++ -*-===//
#ifndef SQC_CODEGEN_EMITTERUTIL_H
#define SQC_CODEGEN_EMITTERUTIL_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/IR/IRBuilder.h"

namespace sqc {

/// Emits `for (i = start; i < end; i += step) body(i)` (signed compare) at
/// the builder's insertion point and leaves the builder after the loop.
inline void emitCountedLoop(llvm::IRBuilder<> &b, llvm::Value *start, llvm::Value *end,
                            llvm::Value *step, const llvm::Twine &name,
                            llvm::function_ref<void(llvm::Value *)> body) {
  llvm::BasicBlock *pre = b.GetInsertBlock();
  llvm::Function *f = pre->getParent();
  llvm::LLVMContext &ctx = b.getContext();
  auto *header = llvm::BasicBlock::Create(ctx, name + ".header", f);
  auto *bodyBB = llvm::BasicBlock::Create(ctx, name + ".body", f);
  auto *exit = llvm::BasicBlock::Create(ctx, name + ".exit", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode *i = b.CreatePHI(start->getType(), 2, name);
  i->addIncoming(start, pre);
  b.CreateCondBr(b.CreateICmpSLT(i, end), bodyBB, exit);
  b.SetInsertPoint(bodyBB);
  body(i);
  i->addIncoming(b.CreateAdd(i, step), b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

/// Elements [0, n) in vectors of `lanes`, then the rest one at a time:
/// body(i, width) handles elements [i, i + width).
inline void emitVectorLoop(llvm::IRBuilder<> &b, llvm::Value *n, unsigned lanes,
                           const llvm::Twine &name,
                           llvm::function_ref<void(llvm::Value *, unsigned)> body) {
  llvm::Value *full = b.CreateSub(n, b.CreateSRem(n, b.getInt64(lanes)), name + ".full");
  emitCountedLoop(b, b.getInt64(0), full, b.getInt64(lanes), name,
                  [&](llvm::Value *i) { body(i, lanes); });
  emitCountedLoop(b, full, n, b.getInt64(1), name + ".tail",
                  [&](llvm::Value *i) { body(i, 1); });
}

} // namespace sqc

#endif // SQC_CODEGEN_EMITTERUTIL_H
