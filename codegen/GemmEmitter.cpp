//===- codegen/GemmEmitter.cpp - GEMM micro-kernels as LLVM IR ------------===//
#include "codegen/GemmEmitter.h"

#include "codegen/EmitterUtil.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/IntrinsicsX86.h"
#include "llvm/IR/Verifier.h"

#include <functional>

namespace sqc {

GemmTiling gemmTiling(GemmIsa isa) {
  switch (isa) {
  case GemmIsa::Generic:
    return {8, 16, 4, 2};
  case GemmIsa::AVX2:
    // 6 x 2 accumulators + 2 B vectors + 1 broadcast: 15 of 16 ymm.
    return {8, 16, 6, 2};
  case GemmIsa::AVXVNNI:
    return {8, 16, 6, 4};
  case GemmIsa::AVX512VNNI:
    // 8 x 2 accumulators of 32 zmm.
    return {16, 32, 8, 4};
  }
  return {8, 16, 4, 2};
}

GemmTiling gemmTiling(GemmIsa isa, GemmKind kind) {
  GemmTiling t = gemmTiling(isa);
  if (kind == GemmKind::F32)
    t.kGroup = 1;
  if (kind == GemmKind::Int8SignPairs)
    // Two ymm of columns, so that each broadcast serves both: 3 x 2
    // accumulators, two slots of B, four broadcasts a row and the 16-bit
    // sums in flight nearly fit the 16 registers (LLVM spills two).
    t = {8, 16, 3, 4};
  return t;
}

bool gemmKindAvailable(GemmKind kind, GemmIsa isa) {
  return kind != GemmKind::Int8SignPairs || isa == GemmIsa::AVX2;
}

llvm::StringRef gemmIsaName(GemmIsa isa) {
  switch (isa) {
  case GemmIsa::Generic:
    return "generic";
  case GemmIsa::AVX2:
    return "avx2";
  case GemmIsa::AVXVNNI:
    return "avxvnni";
  case GemmIsa::AVX512VNNI:
    return "avx512vnni";
  }
  return "generic";
}

std::optional<GemmIsa> parseGemmIsa(llvm::StringRef name) {
  for (GemmIsa isa : {GemmIsa::Generic, GemmIsa::AVX2, GemmIsa::AVXVNNI, GemmIsa::AVX512VNNI})
    if (gemmIsaName(isa) == name)
      return isa;
  return std::nullopt;
}

llvm::StringRef gemmIsaFeature(GemmIsa isa) {
  switch (isa) {
  case GemmIsa::Generic:
    return "";
  case GemmIsa::AVX2:
    return "+avx2,+fma";
  case GemmIsa::AVXVNNI:
    return "+avx2,+fma,+avxvnni";
  case GemmIsa::AVX512VNNI:
    return "+avx512f,+avx512bw,+avx512vl,+avx512vnni,+fma";
  }
  return "";
}

std::string gemmKernelName(GemmKind kind, GemmIsa isa) {
  return (kind == GemmKind::Int8            ? "qgemm_s8_f32out_"
          : kind == GemmKind::Int8SignPairs ? "qgemm_s8signpairs_f32out_"
          : kind == GemmKind::Int4          ? "qgemm_s4_f32out_"
          : kind == GemmKind::Int4Grouped   ? "qgemm_s4g_f32out_"
                                            : "sgemm_f32_") +
         gemmIsaName(isa).str();
}

namespace {

class KernelBuilder {
public:
  KernelBuilder(llvm::Module &m, GemmKind kind, GemmIsa isa)
      : m_(m), ctx_(m.getContext()), b_(ctx_), kind_(kind), isa_(isa),
        t_(gemmTiling(isa, kind)) {}

  llvm::Function *emit() {
    llvm::Type *ptr = b_.getPtrTy(), *i64 = b_.getInt64Ty();
    auto *fnTy = llvm::FunctionType::get(
        b_.getVoidTy(),
        {ptr, i64, ptr, ptr, i64, i64, i64, i64, i64, i64, ptr, ptr, ptr, ptr, ptr, ptr, i64},
        false);
    f_ = llvm::Function::Create(fnTy, llvm::Function::ExternalLinkage,
                                gemmKernelName(kind_, isa_), m_);
    const char *names[] = {"A", "lda", "B", "C", "ldc", "M", "N", "K", "p0", "p1",
                           "aScale", "wScale", "bias", "residual", "comp", "mult",
                           "group.shift"};
    unsigned i = 0;
    for (llvm::Argument &a : f_->args())
      a.setName(names[i++]);
    for (unsigned p : {0u, 2u, 3u, 10u, 11u, 12u, 13u, 14u, 15u})
      f_->addParamAttr(p, llvm::Attribute::NoAlias);
    arg_ = [&](unsigned n) -> llvm::Value * { return f_->getArg(n); };
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f_));

    llvm::Value *K = arg_(7);
    // Int4 walks k step pairs (K is then a multiple of 2 * kGroup).
    kSteps_ = t_.kGroup == 1 ? K
                             : b_.CreateUDiv(K, b_.getInt64(t_.kGroup * stepsPerIteration()),
                                             "k.steps");
    // Groups of k (one for every kind but Int4Grouped), 2^shift k steps each.
    groups_ = grouped() ? b_.CreateLShr(kSteps_, arg_(16), "groups") : b_.getInt64(1);
    emitCountedLoop(b_, arg_(8), arg_(9), b_.getInt64(1), "panel",
                    [&](llvm::Value *p) { panel(p); });
    b_.CreateRetVoid();
    return f_;
  }

private:
  unsigned nvec() const { return t_.nr / t_.lanes; }
  bool grouped() const { return kind_ == GemmKind::Int4Grouped; }
  bool nibbles() const { return kind_ == GemmKind::Int4 || grouped(); }
  bool signPairs() const { return kind_ == GemmKind::Int8SignPairs; }
  unsigned stepsPerIteration() const { return nibbles() ? 2 : 1; }
  /// signPairsHeaderBytes(K / 4), in IR (K / 4 slots).
  llvm::Value *signPairsHeader() {
    llvm::Value *slots = b_.CreateLShr(arg_(7), 2);
    return b_.CreateAnd(b_.CreateAdd(b_.CreateMul(b_.CreateAdd(slots, b_.getInt64(2)),
                                                  b_.getInt64(4)),
                                     b_.getInt64(31)),
                        b_.getInt64(~int64_t(31)), "header");
  }
  llvm::Type *accElem() {
    return kind_ == GemmKind::F32 ? b_.getFloatTy() : b_.getInt32Ty();
  }
  llvm::VectorType *accTy() { return llvm::FixedVectorType::get(accElem(), t_.lanes); }
  /// Bytes of one A element (i16 pairs, u8 quads or f32).
  unsigned aBytes() const {
    return kind_ == GemmKind::F32 ? 4 : t_.kGroup == 2 ? 2 : 1;
  }

  void panel(llvm::Value *p) {
    llvm::Value *nr = b_.getInt64(t_.nr);
    n0_ = b_.CreateMul(p, nr, "n0");
    llvm::Value *left = b_.CreateSub(arg_(6), n0_);
    llvm::Value *ncols = b_.CreateSelect(b_.CreateICmpSLT(left, nr), left, nr, "ncols");
    // Packed panel: K * nr elements of B (Int4: K * nr / 2 bytes; sign
    // pairs: after a header).
    llvm::Value *panelBytes =
        kind_ == GemmKind::F32    ? b_.CreateMul(arg_(7), b_.getInt64(t_.nr * 4))
        : nibbles()               ? b_.CreateMul(arg_(7), b_.getInt64(t_.nr / 2))
                                  : b_.CreateMul(arg_(7), b_.getInt64(t_.nr));
    if (signPairs())
      panelBytes = b_.CreateAdd(panelBytes, signPairsHeader());
    bPanel_ = b_.CreateGEP(b_.getInt8Ty(), arg_(2), b_.CreateMul(p, panelBytes), "b.panel");
    if (grouped()) // groups x nr multipliers per panel
      multPanel_ = b_.CreateGEP(b_.getInt8Ty(), arg_(15),
                                b_.CreateMul(p, b_.CreateMul(groups_, nr)), "mult.panel");
    // Lane masks for a partial last panel.
    masks_.clear();
    llvm::SmallVector<llvm::Constant *, 16> idx;
    for (unsigned v = 0; v < nvec(); ++v) {
      idx.clear();
      for (unsigned l = 0; l < t_.lanes; ++l)
        idx.push_back(b_.getInt64(v * t_.lanes + l));
      masks_.push_back(b_.CreateICmpSLT(llvm::ConstantVector::get(idx),
                                        b_.CreateVectorSplat(t_.lanes, ncols), "mask"));
    }
    llvm::Value *M = arg_(5);
    llvm::Value *mr = b_.getInt64(t_.mr);
    llvm::Value *mFull = b_.CreateSub(M, b_.CreateSRem(M, mr), "m.full");
    emitCountedLoop(b_, b_.getInt64(0), mFull, mr, "m",
                    [&](llvm::Value *m) { tile(t_.mr, m); });
    // The last M % mr rows, one specialized tile per count.
    llvm::Value *rem = b_.CreateSub(M, mFull);
    auto *done = llvm::BasicBlock::Create(ctx_, "rows.done", f_);
    llvm::SwitchInst *sw = b_.CreateSwitch(rem, done, t_.mr - 1);
    for (unsigned rows = 1; rows < t_.mr; ++rows) {
      auto *bb = llvm::BasicBlock::Create(ctx_, "rows." + llvm::Twine(rows), f_);
      sw->addCase(b_.getInt64(rows), bb);
      b_.SetInsertPoint(bb);
      tile(rows, mFull);
      b_.CreateBr(done);
    }
    b_.SetInsertPoint(done);
  }

  /// One register tile: rows [m, m + rows) x the panel's nr columns. The k
  /// loop runs inside a loop over groups of k, where Int4Grouped takes its
  /// multipliers once per group (every other kind is one group).
  void tile(unsigned rows, llvm::Value *m) {
    if (signPairs())
      return signPairsTile(rows, m);
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    auto block = [&](const char *name) { return llvm::BasicBlock::Create(ctx_, name, f_); };
    llvm::BasicBlock *gHeader = block("g.header"), *gBody = block("g.body"),
                     *kHeader = block("k.header"), *kBody = block("k.body"),
                     *kExit = block("k.exit"), *gExit = block("g.exit");
    // Row pointers into A.
    std::vector<llvm::Value *> aRow(rows);
    for (unsigned r = 0; r < rows; ++r)
      aRow[r] = b_.CreateGEP(
          b_.getInt8Ty(), arg_(0),
          b_.CreateMul(b_.CreateMul(b_.CreateAdd(m, b_.getInt64(r)), arg_(1)),
                       b_.getInt64(aBytes())),
          "a.row");
    llvm::Value *perGroup = grouped() ? b_.CreateShl(b_.getInt64(1), arg_(16)) : kSteps_;
    b_.CreateBr(gHeader);

    b_.SetInsertPoint(gHeader);
    llvm::PHINode *g = b_.CreatePHI(b_.getInt64Ty(), 2, "g");
    g->addIncoming(b_.getInt64(0), pre);
    std::vector<llvm::PHINode *> accG(rows * nvec()), acc(rows * nvec());
    for (auto &a : accG) {
      a = b_.CreatePHI(accTy(), 2, "acc.g");
      a->addIncoming(llvm::Constant::getNullValue(accTy()), pre);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(g, groups_), gBody, gExit);

    b_.SetInsertPoint(gBody);
    if (grouped())
      loadMultipliers(g);
    llvm::Value *kBegin = b_.CreateMul(g, perGroup);
    llvm::Value *kEnd = b_.CreateAdd(kBegin, perGroup);
    llvm::BasicBlock *gBodyEnd = b_.GetInsertBlock();
    b_.CreateBr(kHeader);

    b_.SetInsertPoint(kHeader);
    llvm::PHINode *k = b_.CreatePHI(b_.getInt64Ty(), 2, "kk");
    k->addIncoming(kBegin, gBodyEnd);
    for (size_t i = 0; i < acc.size(); ++i) {
      acc[i] = b_.CreatePHI(accTy(), 2, "acc");
      acc[i]->addIncoming(accG[i], gBodyEnd);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(k, kEnd), kBody, kExit);

    b_.SetInsertPoint(kBody);
    std::vector<llvm::Value *> next(acc.begin(), acc.end());
    for (unsigned s = 0; s < stepsPerIteration(); ++s) {
      llvm::Value *step = stepsPerIteration() == 1
                              ? static_cast<llvm::Value *>(k)
                              : b_.CreateAdd(b_.CreateMul(k, b_.getInt64(2)), b_.getInt64(s));
      std::vector<llvm::Value *> bv(nvec());
      for (unsigned v = 0; v < nvec(); ++v)
        bv[v] = loadB(k, v, s);
      for (unsigned r = 0; r < rows; ++r) {
        llvm::Value *a = broadcastA(aRow[r], step);
        for (unsigned v = 0; v < nvec(); ++v)
          next[r * nvec() + v] = multiplyAdd(next[r * nvec() + v], a, bv[v]);
      }
    }
    k->addIncoming(b_.CreateAdd(k, b_.getInt64(1)), kBody);
    for (size_t i = 0; i < acc.size(); ++i)
      acc[i]->addIncoming(next[i], kBody);
    b_.CreateBr(kHeader);

    b_.SetInsertPoint(kExit);
    g->addIncoming(b_.CreateAdd(g, b_.getInt64(1)), kExit);
    for (size_t i = 0; i < acc.size(); ++i)
      accG[i]->addIncoming(acc[i], kExit);
    b_.CreateBr(gHeader);

    b_.SetInsertPoint(gExit);
    for (unsigned r = 0; r < rows; ++r)
      for (unsigned v = 0; v < nvec(); ++v)
        epilogue(accG[r * nvec() + v], b_.CreateAdd(m, b_.getInt64(r)), v);
  }

  /// `for (i = begin; i < end; ++i) accs = body(i, accs)` with the
  /// accumulators carried in registers; returns their final values.
  std::vector<llvm::Value *>
  accumulatingLoop(llvm::Value *begin, llvm::Value *end, std::vector<llvm::Value *> accs,
                   const char *name,
                   const std::function<void(llvm::Value *, std::vector<llvm::Value *> &)> &body) {
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    auto *header = llvm::BasicBlock::Create(ctx_, llvm::Twine(name) + ".header", f_);
    auto *bodyBB = llvm::BasicBlock::Create(ctx_, llvm::Twine(name) + ".body", f_);
    auto *exit = llvm::BasicBlock::Create(ctx_, llvm::Twine(name) + ".exit", f_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode *i = b_.CreatePHI(b_.getInt64Ty(), 2, name);
    i->addIncoming(begin, pre);
    std::vector<llvm::PHINode *> phis;
    std::vector<llvm::Value *> next;
    for (llvm::Value *a : accs) {
      phis.push_back(b_.CreatePHI(a->getType(), 2, "acc"));
      phis.back()->addIncoming(a, pre);
      next.push_back(phis.back());
    }
    b_.CreateCondBr(b_.CreateICmpSLT(i, end), bodyBB, exit);
    b_.SetInsertPoint(bodyBB);
    body(i, next);
    i->addIncoming(b_.CreateAdd(i, b_.getInt64(1)), b_.GetInsertBlock());
    for (size_t j = 0; j < phis.size(); ++j)
      phis[j]->addIncoming(next[j], b_.GetInsertBlock());
    b_.CreateBr(header);
    b_.SetInsertPoint(exit);
    return std::vector<llvm::Value *>(phis.begin(), phis.end());
  }

  /// Int8SignPairs' tile: the panel's slot pairs, each summed in 16 bits,
  /// then its single slots.
  void signPairsTile(unsigned rows, llvm::Value *m) {
    llvm::Type *i8 = b_.getInt8Ty(), *i32 = b_.getInt32Ty();
    auto *bytes = llvm::FixedVectorType::get(i8, 32);
    std::vector<llvm::Value *> aRow(rows);
    for (unsigned r = 0; r < rows; ++r) // two bytes of A per k
      aRow[r] = b_.CreateGEP(
          i8, arg_(0),
          b_.CreateMul(b_.CreateMul(b_.CreateAdd(m, b_.getInt64(r)), arg_(1)), b_.getInt64(2)),
          "a.row");
    llvm::Value *pairs = b_.CreateSExt(b_.CreateLoad(i32, bPanel_), b_.getInt64Ty(), "pairs");
    llvm::Value *slots = b_.CreateSExt(
        b_.CreateLoad(i32, b_.CreateGEP(i8, bPanel_, b_.getInt64(4))), b_.getInt64Ty(), "slots");
    llvm::Value *offsets = b_.CreateGEP(i8, bPanel_, b_.getInt64(8));
    llvm::Value *bSlots = b_.CreateGEP(i8, bPanel_, signPairsHeader(), "b.slots");
    llvm::Value *ones =
        llvm::ConstantInt::get(llvm::FixedVectorType::get(b_.getInt16Ty(), 16), 1);
    // Slot j's B vectors and, per row, its codes and magnitudes broadcast.
    auto loadSlot = [&](llvm::Value *j, std::vector<llvm::Value *> &x,
                        std::vector<llvm::Value *> &mag) {
      llvm::Value *off = b_.CreateSExt(
          b_.CreateLoad(i32, b_.CreateGEP(i32, offsets, j)), b_.getInt64Ty(), "a.off");
      x.resize(rows);
      mag.resize(rows);
      for (unsigned r = 0; r < rows; ++r) {
        llvm::Value *at = b_.CreateGEP(i8, aRow[r], off);
        auto splat = [&](llvm::Value *p) {
          return b_.CreateBitCast(
              b_.CreateVectorSplat(8, b_.CreateAlignedLoad(i32, p, llvm::Align(1))), bytes);
        };
        x[r] = splat(at);
        mag[r] = splat(b_.CreateGEP(i8, at, b_.getInt64(4)));
      }
      std::vector<llvm::Value *> bv(nvec());
      llvm::Value *slot = b_.CreateGEP(i8, bSlots, b_.CreateMul(j, b_.getInt64(t_.nr * 4)));
      for (unsigned v = 0; v < nvec(); ++v)
        bv[v] = b_.CreateAlignedLoad(bytes, b_.CreateGEP(i8, slot, b_.getInt64(32 * v)),
                                     llvm::Align(1), "b");
      return bv;
    };
    // |a| x (b * sign(a)): 16-bit pair sums of at most 128 * 254.
    auto pairSums = [&](llvm::Value *mag, llvm::Value *x, llvm::Value *bv) {
      llvm::Value *signedB =
          b_.CreateIntrinsic(llvm::Intrinsic::x86_avx2_psign_b, {}, {bv, x});
      return b_.CreateIntrinsic(llvm::Intrinsic::x86_avx2_pmadd_ub_sw, {}, {mag, signedB});
    };
    auto widenAdd = [&](llvm::Value *acc, llvm::Value *sums) {
      return b_.CreateAdd(
          acc, b_.CreateIntrinsic(llvm::Intrinsic::x86_avx2_pmadd_wd, {}, {sums, ones}));
    };
    const unsigned nv = nvec();
    std::vector<llvm::Value *> acc(rows * nv, llvm::Constant::getNullValue(accTy()));
    acc = accumulatingLoop(b_.getInt64(0), pairs, acc, "pair",
                           [&](llvm::Value *i, std::vector<llvm::Value *> &a) {
                             std::vector<llvm::Value *> x0, m0, x1, m1;
                             llvm::Value *j = b_.CreateShl(i, 1);
                             auto b0 = loadSlot(j, x0, m0);
                             auto b1 = loadSlot(b_.CreateAdd(j, b_.getInt64(1)), x1, m1);
                             for (unsigned r = 0; r < rows; ++r)
                               for (unsigned v = 0; v < nv; ++v)
                                 a[r * nv + v] = widenAdd(
                                     a[r * nv + v], b_.CreateAdd(pairSums(m0[r], x0[r], b0[v]),
                                                                 pairSums(m1[r], x1[r], b1[v])));
                           });
    acc = accumulatingLoop(b_.CreateShl(pairs, 1), slots, acc, "single",
                           [&](llvm::Value *j, std::vector<llvm::Value *> &a) {
                             std::vector<llvm::Value *> x, mag;
                             auto bv = loadSlot(j, x, mag);
                             for (unsigned r = 0; r < rows; ++r)
                               for (unsigned v = 0; v < nv; ++v)
                                 a[r * nv + v] =
                                     widenAdd(a[r * nv + v], pairSums(mag[r], x[r], bv[v]));
                           });
    for (unsigned r = 0; r < rows; ++r)
      for (unsigned v = 0; v < nv; ++v)
        epilogue(acc[r * nv + v], b_.CreateAdd(m, b_.getInt64(r)), v);
  }

  /// Group `g`'s multipliers, one per column, as 16-bit lanes (two per
  /// column, as a column's k values fill a 32-bit lane): the i16 variants
  /// multiply each widened code; vpdpbusd variants multiply pairs of biased
  /// codes (code + 8 in [0, 15], times m <= 16, stays within its byte) and
  /// take 8 m from each byte.
  void loadMultipliers(llvm::Value *g) {
    mult_.assign(nvec(), nullptr);
    eightMult_.assign(nvec(), nullptr);
    auto *bytes = llvm::FixedVectorType::get(b_.getInt8Ty(), t_.lanes);
    llvm::SmallVector<int, 32> twice;
    for (unsigned l = 0; l < t_.lanes; ++l)
      twice.append({int(l), int(l)});
    for (unsigned v = 0; v < nvec(); ++v) {
      llvm::Value *at = b_.CreateAdd(b_.CreateMul(g, b_.getInt64(t_.nr)),
                                     b_.getInt64(v * t_.lanes));
      llvm::Value *raw = b_.CreateAlignedLoad(
          bytes, b_.CreateGEP(b_.getInt8Ty(), multPanel_, at), llvm::Align(1), "mult");
      mult_[v] = b_.CreateShuffleVector(
          b_.CreateZExt(raw, llvm::FixedVectorType::get(b_.getInt16Ty(), t_.lanes)), twice,
          "mult");
      if (t_.kGroup == 4)
        eightMult_[v] = b_.CreateBitCast(
            b_.CreateMul(mult_[v], llvm::ConstantInt::get(mult_[v]->getType(), 0x0808)),
            llvm::FixedVectorType::get(b_.getInt8Ty(), t_.lanes * 4), "mult.8");
    }
  }

  /// Packed B for k step `k` (Int4: the pair k, and `half` of it), vector
  /// `v`, in the form multiplyAdd takes.
  llvm::Value *loadB(llvm::Value *k, unsigned v, unsigned half = 0) {
    unsigned perStep = t_.nr * t_.kGroup; // elements per k step
    llvm::Value *off = b_.CreateAdd(b_.CreateMul(k, b_.getInt64(perStep)),
                                    b_.getInt64(v * t_.lanes * t_.kGroup));
    if (kind_ == GemmKind::F32)
      return b_.CreateAlignedLoad(accTy(), b_.CreateGEP(b_.getFloatTy(), bPanel_, off),
                                  llvm::Align(4), "b");
    auto *bytes = llvm::FixedVectorType::get(b_.getInt8Ty(), t_.lanes * t_.kGroup);
    llvm::Value *raw = b_.CreateAlignedLoad(bytes, b_.CreateGEP(b_.getInt8Ty(), bPanel_, off),
                                            llvm::Align(1), "b");
    llvm::Value *four = llvm::ConstantInt::get(bytes, 4);
    if (grouped() && t_.kGroup == 4) {
      // (code + 8) m - 8 m, byte by byte: the stored nibble xor 8 is code + 8.
      llvm::Value *nib = half == 0 ? b_.CreateAnd(raw, llvm::ConstantInt::get(bytes, 15))
                                   : b_.CreateLShr(raw, four);
      llvm::Value *biased = b_.CreateXor(nib, llvm::ConstantInt::get(bytes, 8));
      llvm::Value *times =
          b_.CreateMul(b_.CreateBitCast(biased, mult_[v]->getType()), mult_[v]);
      return b_.CreateBitCast(
          b_.CreateSub(b_.CreateBitCast(times, bytes), eightMult_[v], "b.code"), accTy());
    }
    if (t_.kGroup == 4) {
      if (nibbles()) // sign-extend a nibble within its byte: the low one moved up first
        raw = b_.CreateAShr(half == 0 ? b_.CreateShl(raw, four) : raw, four, "b.nibble");
      return b_.CreateBitCast(raw, accTy()); // vpdpbusd takes the bytes as they are
    }
    auto *i16 = llvm::FixedVectorType::get(b_.getInt16Ty(), t_.lanes * 2);
    llvm::Value *wide = b_.CreateSExt(raw, i16);
    if (nibbles()) {
      // Nibbles from the widened byte, where AVX2 has 16-bit shifts (it has
      // none for bytes): the high one is the byte >> 4, the low one moved up
      // to the top first.
      llvm::Value *twelve = llvm::ConstantInt::get(i16, 12);
      wide = half == 0 ? b_.CreateAShr(b_.CreateShl(wide, twelve), twelve, "b.nibble")
                       : b_.CreateAShr(wide, llvm::ConstantInt::get(i16, 4), "b.nibble");
    }
    return grouped() ? b_.CreateMul(wide, mult_[v], "b.code") : wide;
  }

  /// Row `aRow`'s k group `k`, broadcast to every lane.
  llvm::Value *broadcastA(llvm::Value *aRow, llvm::Value *k) {
    if (kind_ == GemmKind::F32) {
      llvm::Value *x = b_.CreateLoad(b_.getFloatTy(), b_.CreateGEP(b_.getFloatTy(), aRow, k));
      return b_.CreateVectorSplat(t_.lanes, x);
    }
    // One 32-bit group: two i16 or four u8.
    llvm::Value *group = b_.CreateAlignedLoad(
        b_.getInt32Ty(), b_.CreateGEP(b_.getInt32Ty(), aRow, k), llvm::Align(1));
    llvm::Value *splat = b_.CreateVectorSplat(t_.lanes, group);
    if (t_.kGroup == 4)
      return splat;
    return b_.CreateBitCast(splat, llvm::FixedVectorType::get(b_.getInt16Ty(), t_.lanes * 2));
  }

  llvm::Value *multiplyAdd(llvm::Value *acc, llvm::Value *a, llvm::Value *bv) {
    if (kind_ == GemmKind::F32)
      return b_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {accTy()}, {a, bv, acc});
    switch (isa_) {
    case GemmIsa::AVX2:
      return b_.CreateAdd(acc, b_.CreateIntrinsic(llvm::Intrinsic::x86_avx2_pmadd_wd, {},
                                                  {a, bv}));
    case GemmIsa::AVXVNNI:
      return b_.CreateIntrinsic(llvm::Intrinsic::x86_avx512_vpdpbusd_256, {}, {acc, a, bv});
    case GemmIsa::AVX512VNNI:
      return b_.CreateIntrinsic(llvm::Intrinsic::x86_avx512_vpdpbusd_512, {}, {acc, a, bv});
    case GemmIsa::Generic: {
      // Pairwise 16-bit products summed in 32 bits, in plain IR.
      auto *wide = llvm::FixedVectorType::get(b_.getInt32Ty(), t_.lanes * 2);
      llvm::Value *prod = b_.CreateMul(b_.CreateSExt(a, wide), b_.CreateSExt(bv, wide));
      llvm::SmallVector<int, 16> even, odd;
      for (unsigned l = 0; l < t_.lanes; ++l) {
        even.push_back(2 * l);
        odd.push_back(2 * l + 1);
      }
      return b_.CreateAdd(acc, b_.CreateAdd(b_.CreateShuffleVector(prod, even),
                                            b_.CreateShuffleVector(prod, odd)));
    }
    }
    return acc;
  }

  /// Masked load of `ptr[off : off + lanes]` where the lane mask is set.
  llvm::Value *maskedLoad(llvm::Type *elem, llvm::Value *ptr, llvm::Value *off, unsigned v) {
    auto *ty = llvm::FixedVectorType::get(elem, t_.lanes);
    return b_.CreateMaskedLoad(ty, b_.CreateGEP(elem, ptr, off), llvm::Align(4), masks_[v],
                               llvm::Constant::getNullValue(ty));
  }

  /// When `ptr` is not null, `val + load()` for floats (bias, residual) or
  /// `val - load()` for the int32 u8 correction; else `val`.
  llvm::Value *addIfPresent(llvm::Value *val, llvm::Value *ptr,
                            const std::function<llvm::Value *()> &load, llvm::StringRef name) {
    llvm::BasicBlock *pre = b_.GetInsertBlock();
    auto *yes = llvm::BasicBlock::Create(ctx_, name, f_);
    auto *join = llvm::BasicBlock::Create(ctx_, name + ".join", f_);
    b_.CreateCondBr(b_.CreateIsNotNull(ptr), yes, join);
    b_.SetInsertPoint(yes);
    llvm::Value *sum = val->getType()->isFPOrFPVectorTy() ? b_.CreateFAdd(val, load())
                                                          : b_.CreateSub(val, load());
    llvm::BasicBlock *yesEnd = b_.GetInsertBlock();
    b_.CreateBr(join);
    b_.SetInsertPoint(join);
    llvm::PHINode *phi = b_.CreatePHI(val->getType(), 2);
    phi->addIncoming(val, pre);
    phi->addIncoming(sum, yesEnd);
    return phi;
  }

  void epilogue(llvm::Value *acc, llvm::Value *row, unsigned v) {
    llvm::Type *f32 = b_.getFloatTy();
    llvm::Value *col = b_.CreateAdd(n0_, b_.getInt64(v * t_.lanes), "col");
    llvm::Value *out = acc;
    if (kind_ != GemmKind::F32) {
      // comp holds 128 * sum_k B[n, k] for the u8 variants (subtracted).
      out = addIfPresent(out, arg_(14),
                         [&] { return maskedLoad(b_.getInt32Ty(), arg_(14), col, v); },
                         "comp");
      out = b_.CreateSIToFP(out, llvm::FixedVectorType::get(f32, t_.lanes));
      llvm::Value *as = b_.CreateLoad(f32, b_.CreateGEP(f32, arg_(10), row));
      llvm::Value *ws = maskedLoad(f32, arg_(11), col, v);
      out = b_.CreateFMul(out, b_.CreateFMul(b_.CreateVectorSplat(t_.lanes, as), ws));
    }
    out = addIfPresent(out, arg_(12), [&] { return maskedLoad(f32, arg_(12), col, v); },
                       "bias");
    llvm::Value *at = b_.CreateAdd(b_.CreateMul(row, arg_(4)), col);
    out = addIfPresent(out, arg_(13), [&] { return maskedLoad(f32, arg_(13), at, v); },
                       "residual");
    b_.CreateMaskedStore(out, b_.CreateGEP(f32, arg_(3), at), llvm::Align(4), masks_[v]);
  }

  llvm::Module &m_;
  llvm::LLVMContext &ctx_;
  llvm::IRBuilder<> b_;
  GemmKind kind_;
  GemmIsa isa_;
  GemmTiling t_;
  llvm::Function *f_ = nullptr;
  std::function<llvm::Value *(unsigned)> arg_;
  llvm::Value *kSteps_ = nullptr, *groups_ = nullptr, *n0_ = nullptr, *bPanel_ = nullptr,
              *multPanel_ = nullptr;
  std::vector<llvm::Value *> masks_;
  std::vector<llvm::Value *> mult_, eightMult_; // Int4Grouped: the group's multipliers
};

} // namespace

llvm::Function *emitGemmKernel(llvm::Module &m, GemmKind kind, GemmIsa isa) {
  if (!gemmKindAvailable(kind, isa))
    llvm::report_fatal_error(llvm::Twine("no ") + gemmKernelName(kind, isa) + " kernel");
  llvm::Function *f = KernelBuilder(m, kind, isa).emit();
  // A generator bug should fail here, not inside instruction selection.
  if (llvm::verifyFunction(*f, &llvm::errs()))
    llvm::report_fatal_error("invalid GEMM kernel IR for " + f->getName());
  return f;
}

} // namespace sqc
