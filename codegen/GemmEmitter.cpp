//===- codegen/GemmEmitter.cpp - INT8 GEMM kernels as LLVM IR -------------===//
#include "codegen/GemmEmitter.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Verifier.h"

namespace sqc {

std::string int8GemmName(unsigned lanes) {
  return "qgemm_s8s8s32_nt_v" + std::to_string(lanes);
}

namespace {

/// A counted loop [0, n) (or [start, n)); `body` gets the induction value.
/// Leaves the builder after the loop.
void emitLoop(llvm::IRBuilder<> &b, llvm::Value *start, llvm::Value *end,
              llvm::Value *step, llvm::StringRef name,
              const std::function<void(llvm::Value *)> &body) {
  llvm::Function *f = b.GetInsertBlock()->getParent();
  llvm::LLVMContext &ctx = b.getContext();
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *header = llvm::BasicBlock::Create(ctx, name + ".header", f);
  auto *loop = llvm::BasicBlock::Create(ctx, name + ".body", f);
  auto *exit = llvm::BasicBlock::Create(ctx, name + ".exit", f);
  b.CreateBr(header);
  b.SetInsertPoint(header);
  llvm::PHINode *i = b.CreatePHI(start->getType(), 2, name);
  i->addIncoming(start, pre);
  b.CreateCondBr(b.CreateICmpSLT(i, end), loop, exit);
  b.SetInsertPoint(loop);
  body(i);
  i->addIncoming(b.CreateAdd(i, step), b.GetInsertBlock());
  b.CreateBr(header);
  b.SetInsertPoint(exit);
}

} // namespace

llvm::Function *emitInt8Gemm(llvm::Module &m, unsigned lanes) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type *i8 = b.getInt8Ty(), *i32 = b.getInt32Ty(), *i64 = b.getInt64Ty();
  llvm::Type *ptr = b.getPtrTy();
  auto *fnTy = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, i64, i64, i64}, false);
  auto *f = llvm::Function::Create(fnTy, llvm::Function::ExternalLinkage,
                                   int8GemmName(lanes), m);
  auto args = f->arg_begin();
  llvm::Value *A = args++, *B = args++, *C = args++, *M = args++, *N = args++, *K = args;
  A->setName("A");
  B->setName("B");
  C->setName("C");
  M->setName("M");
  N->setName("N");
  K->setName("K");
  for (unsigned p = 0; p < 3; ++p)
    f->addParamAttr(p, llvm::Attribute::NoAlias);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", f));

  auto *vecI8 = llvm::FixedVectorType::get(i8, lanes);
  auto *vecI32 = llvm::FixedVectorType::get(i32, lanes);
  llvm::Value *zero = b.getInt64(0), *one = b.getInt64(1);
  llvm::Value *vecStep = b.getInt64(lanes);
  // K rounded down to whole vectors.
  llvm::Value *kVec = b.CreateAnd(K, b.getInt64(~uint64_t(lanes - 1)), "k.vec");

  emitLoop(b, zero, M, one, "m", [&](llvm::Value *mi) {
    llvm::Value *aRow = b.CreateGEP(i8, A, b.CreateMul(mi, K), "a.row");
    emitLoop(b, zero, N, one, "n", [&](llvm::Value *ni) {
      llvm::Value *bRow = b.CreateGEP(i8, B, b.CreateMul(ni, K), "b.row");
      // Vector part: s8 -> s32 before multiplying keeps every product exact.
      llvm::AllocaInst *accSlot = nullptr;
      llvm::IRBuilder<> entry(&f->getEntryBlock(), f->getEntryBlock().begin());
      accSlot = entry.CreateAlloca(vecI32, nullptr, "acc.slot");
      llvm::AllocaInst *sumSlot = entry.CreateAlloca(i32, nullptr, "sum.slot");
      b.CreateStore(llvm::Constant::getNullValue(vecI32), accSlot);
      emitLoop(b, zero, kVec, vecStep, "k", [&](llvm::Value *ki) {
        llvm::Value *a = b.CreateAlignedLoad(vecI8, b.CreateGEP(i8, aRow, ki), llvm::Align(1));
        llvm::Value *w = b.CreateAlignedLoad(vecI8, b.CreateGEP(i8, bRow, ki), llvm::Align(1));
        llvm::Value *prod = b.CreateMul(b.CreateSExt(a, vecI32), b.CreateSExt(w, vecI32));
        b.CreateStore(b.CreateAdd(b.CreateLoad(vecI32, accSlot), prod), accSlot);
      });
      llvm::Value *sum = b.CreateAddReduce(b.CreateLoad(vecI32, accSlot));
      b.CreateStore(sum, sumSlot);
      // Scalar tail for K not a multiple of the vector width.
      emitLoop(b, kVec, K, one, "tail", [&](llvm::Value *ki) {
        llvm::Value *a = b.CreateLoad(i8, b.CreateGEP(i8, aRow, ki));
        llvm::Value *w = b.CreateLoad(i8, b.CreateGEP(i8, bRow, ki));
        llvm::Value *prod = b.CreateMul(b.CreateSExt(a, i32), b.CreateSExt(w, i32));
        b.CreateStore(b.CreateAdd(b.CreateLoad(i32, sumSlot), prod), sumSlot);
      });
      llvm::Value *out = b.CreateGEP(i32, C, b.CreateAdd(b.CreateMul(mi, N), ni));
      b.CreateStore(b.CreateLoad(i32, sumSlot), out);
    });
  });
  b.CreateRetVoid();
  return f;
}

} // namespace sqc
