//===- codegen/Log2Emitter.cpp - log2_matmul's row kernel as LLVM IR ------===//
#include "codegen/Log2Emitter.h"

#include "codegen/EmitterUtil.h"
#include "runtime/LogQuant.h"

#include "llvm/IR/Verifier.h"

#include <cmath>

namespace sqc {

std::string log2KernelName(GemmIsa isa) {
  return "log2_matmul_row_" + gemmIsaName(isa).str();
}

llvm::Function *emitLog2MatMulRowKernel(llvm::Module &m, GemmIsa isa) {
  llvm::LLVMContext &ctx = m.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type *ptr = b.getPtrTy(), *i64 = b.getInt64Ty(), *i32 = b.getInt32Ty();
  auto *fnTy = llvm::FunctionType::get(b.getVoidTy(),
                                       {ptr, i64, ptr, i64, i64, i64, ptr, ptr, ptr}, false);
  auto *f = llvm::Function::Create(fnTy, llvm::Function::ExternalLinkage, log2KernelName(isa), m);
  const char *names[] = {"codes", "K", "b", "ldb", "N", "sqrt2", "all", "odd", "out"};
  for (unsigned i = 0; i < f->arg_size(); ++i) {
    f->getArg(i)->setName(names[i]);
    if (f->getArg(i)->getType()->isPointerTy())
      f->addParamAttr(i, llvm::Attribute::NoAlias);
  }
  llvm::Value *codes = f->getArg(0), *K = f->getArg(1), *bMat = f->getArg(2),
              *ldb = f->getArg(3), *N = f->getArg(4), *all = f->getArg(6),
              *odd = f->getArg(7), *out = f->getArg(8);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", f));
  llvm::Value *sqrt2 = b.CreateICmpNE(f->getArg(5), b.getInt64(0), "is.sqrt2");
  // 64-bit lanes of the ISA's vector registers.
  unsigned lanes = isa == GemmIsa::AVX512VNNI ? 8 : 4;
  auto vec = [&](llvm::Type *elem, unsigned width) -> llvm::Type * {
    return width == 1 ? elem : llvm::FixedVectorType::get(elem, width);
  };
  auto splat = [&](unsigned width, llvm::Value *v) {
    return width == 1 ? v : b.CreateVectorSplat(width, v);
  };
  emitVectorLoop(b, N, lanes, "zero", [&](llvm::Value *n, unsigned w) {
    llvm::Value *zero = llvm::Constant::getNullValue(vec(i64, w));
    b.CreateAlignedStore(zero, b.CreateGEP(i64, all, n), llvm::Align(8));
    b.CreateAlignedStore(zero, b.CreateGEP(i64, odd, n), llvm::Align(8));
  });

  emitCountedLoop(b, b.getInt64(0), K, b.getInt64(1), "k", [&](llvm::Value *k) {
    llvm::Value *code = b.CreateLoad(i32, b.CreateGEP(i32, codes, k), "code");
    // The power of two a code stands for (logQuantShift), and whether it
    // adds anything at all.
    llvm::Value *shift = b.CreateSelect(
        sqrt2, b.CreateAShr(b.CreateAdd(code, b.getInt32(1)), b.getInt32(1)), code, "s");
    // (Codes are u8; a negative one, which only a hand-filled tensor could
    // hold, adds nothing rather than shifting by more than 40.)
    llvm::Value *adds = b.CreateAnd(
        b.CreateAnd(b.CreateICmpSGE(code, b.getInt32(0)),
                    b.CreateICmpSLT(code, b.getInt32(kLogQuantZeroCode))),
        b.CreateICmpSLE(shift, b.getInt32(kLogQuantMaxShift)), "adds");
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    auto *addBB = llvm::BasicBlock::Create(ctx, "k.add", fn);
    auto *next = llvm::BasicBlock::Create(ctx, "k.next", fn);
    b.CreateCondBr(adds, addBB, next);
    b.SetInsertPoint(addBB);
    llvm::Value *left =
        b.CreateSExt(b.CreateSub(b.getInt32(kLogQuantMaxShift), shift), i64, "left");
    llvm::Value *isOdd = b.CreateAnd(
        sqrt2, b.CreateICmpNE(b.CreateAnd(code, b.getInt32(1)), b.getInt32(0)), "odd.code");
    llvm::Value *acc = b.CreateSelect(isOdd, odd, all, "acc");
    llvm::Value *row = b.CreateGEP(i32, bMat, b.CreateMul(k, ldb), "b.row");
    emitVectorLoop(b, N, lanes, "n", [&](llvm::Value *n, unsigned w) {
      llvm::Value *v = b.CreateAlignedLoad(vec(i32, w), b.CreateGEP(i32, row, n), llvm::Align(4));
      llvm::Value *term = b.CreateShl(b.CreateSExt(v, vec(i64, w)), splat(w, left));
      llvm::Value *at = b.CreateGEP(i64, acc, n);
      llvm::Value *sum = b.CreateAdd(b.CreateAlignedLoad(vec(i64, w), at, llvm::Align(8)), term);
      b.CreateAlignedStore(sum, at, llvm::Align(8));
    });
    b.CreateBr(next);
    b.SetInsertPoint(next);
  });

  // (all + odd + (sqrt 2 - 1) odd) * 2^-40 in double (exact scaling by a
  // power of two), rounded once to float.
  llvm::Type *f64 = b.getDoubleTy();
  emitVectorLoop(b, N, lanes, "out", [&](llvm::Value *n, unsigned w) {
    llvm::Value *a = b.CreateAlignedLoad(vec(i64, w), b.CreateGEP(i64, all, n), llvm::Align(8));
    llvm::Value *o = b.CreateAlignedLoad(vec(i64, w), b.CreateGEP(i64, odd, n), llvm::Align(8));
    llvm::Value *total = b.CreateSIToFP(b.CreateAdd(a, o), vec(f64, w));
    llvm::Value *extra = b.CreateFMul(
        splat(w, llvm::ConstantFP::get(f64, std::sqrt(2.0) - 1.0)), b.CreateSIToFP(o, vec(f64, w)));
    llvm::Value *r = b.CreateFMul(b.CreateFAdd(total, extra),
                                  splat(w, llvm::ConstantFP::get(
                                               f64, std::ldexp(1.0, -kLogQuantMaxShift))));
    b.CreateAlignedStore(b.CreateFPTrunc(r, vec(b.getFloatTy(), w)),
                         b.CreateGEP(b.getFloatTy(), out, n), llvm::Align(4));
  });
  b.CreateRetVoid();
  if (llvm::verifyFunction(*f, &llvm::errs()))
    llvm::report_fatal_error("invalid log2_matmul kernel IR for " + f->getName());
  return f;
}

} // namespace sqc
