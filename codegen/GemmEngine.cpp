//===- codegen/GemmEngine.cpp - JIT-compiled GEMMs, packing, threads ------===//
#include "codegen/GemmEngine.h"

#include "codegen/Log2Emitter.h"
#include "codegen/RowMath.h"

#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <cstring>

namespace sqc {

bool targetRuns(const TargetSpec &target, GemmIsa isa) {
  llvm::StringRef needed = gemmIsaFeature(isa);
  return needed.empty() || targetHas(target, needed);
}

namespace {
const GemmKind kAllKinds[] = {GemmKind::Int8, GemmKind::Int4, GemmKind::Int4Grouped,
                              GemmKind::F32, GemmKind::Int8SignPairs};
} // namespace

GemmIsa bestGemmIsa(const TargetSpec &target) {
  for (GemmIsa isa : {GemmIsa::AVX512VNNI, GemmIsa::AVXVNNI, GemmIsa::AVX2})
    if (targetRuns(target, isa))
      return isa;
  return GemmIsa::Generic;
}

llvm::Expected<std::unique_ptr<GemmEngine>> GemmEngine::create(const TargetSpec &target,
                                                                GemmIsa isa) {
  auto jit = Jit::create(target);
  if (!jit)
    return jit.takeError();
  // One module per kernel: the JIT optimizes and compiles a module when one
  // of its symbols is first looked up, so a graph pays only for the kernels
  // it runs (most need int8 and fp32 alone).
  for (unsigned k = 0; k < kKernels; ++k) {
    auto ctx = std::make_unique<llvm::LLVMContext>();
    auto m = std::make_unique<llvm::Module>(kernelName(k, isa), *ctx);
    if (!emitKernel(*m, k, isa))
      continue;
    if (llvm::Error e = (*jit)->add(std::move(m), std::move(ctx)))
      return e;
  }
  auto engine = std::unique_ptr<GemmEngine>(new GemmEngine());
  engine->isa_ = isa;
  engine->tiling_ = gemmTiling(isa);
  engine->jit_ = std::move(*jit);
  return engine;
}

bool GemmEngine::emitKernel(llvm::Module &m, unsigned which, GemmIsa isa) {
  // Kernel indices are GemmKind values (kAllKinds in enum order), then log2.
  static_assert(std::size(kAllKinds) + 1 == kKernels && unsigned(GemmKind::Int8) == 0 &&
                unsigned(GemmKind::Int8SignPairs) == std::size(kAllKinds) - 1);
  if (which >= std::size(kAllKinds))
    emitLog2MatMulRowKernel(m, isa);
  else if (gemmKindAvailable(kAllKinds[which], isa))
    emitGemmKernel(m, kAllKinds[which], isa);
  else
    return false;
  return true;
}

std::string GemmEngine::kernelName(unsigned which, GemmIsa isa) {
  return which < std::size(kAllKinds) ? gemmKernelName(kAllKinds[which], isa)
                                      : log2KernelName(isa);
}

void GemmEngine::emitKernels(llvm::Module &m, GemmIsa isa) {
  for (unsigned k = 0; k < kKernels; ++k)
    emitKernel(m, k, isa);
}

void *GemmEngine::kernel(unsigned which) const {
  std::call_once(compiled_[which], [&] {
    auto fn = jit_->lookup(kernelName(which, isa_));
    // The IR was verified when it was emitted: failing here is a bug in
    // the generator or in LLVM, with no caller that could recover.
    if (!fn)
      llvm::report_fatal_error("compiling " + llvm::Twine(kernelName(which, isa_)) + ": " +
                               llvm::toString(fn.takeError()));
    kernels_[which] = *fn;
  });
  return kernels_[which];
}

GemmEngine::Log2RowKernel GemmEngine::log2RowKernel() const {
  return reinterpret_cast<Log2RowKernel>(kernel(kKernels - 1));
}

llvm::Expected<std::shared_ptr<const GemmEngine>>
GemmEngine::shared(const TargetSpec &target, GemmIsa isa) {
  static std::mutex mutex;
  // Never destroyed: at exit the JITs would otherwise be torn down after
  // llvm_shutdown (InitLLVM's destructor in main) has run.
  static auto &engines = *new std::map<std::string, std::shared_ptr<const GemmEngine>>();
  std::string key = target.cpu + "|" + target.featureString() + "|" + gemmIsaName(isa).str();
  std::lock_guard<std::mutex> lock(mutex);
  auto it = engines.find(key);
  if (it != engines.end())
    return it->second;
  auto engine = create(target, isa);
  if (!engine)
    return engine.takeError();
  std::shared_ptr<const GemmEngine> made = std::move(*engine);
  engines.emplace(key, made);
  return made;
}

namespace {
/// Packs w (element (n, k) at w[n * sn + k * sk]) into panels of `nr`
/// columns, then k groups of `g`, then columns, then the group's k values.
template <typename Out, typename In>
void packPanels(const In *w, int64_t N, int64_t K, int64_t sn, int64_t sk, unsigned nr,
                unsigned g, int64_t Kp, std::vector<Out> &panels) {
  panels.assign((N + nr - 1) / nr * Kp * nr, Out(0));
  // Walks the destination in order (it runs per call for attention's
  // operands, so no divisions in the loop).
  Out *dst = panels.data();
  for (int64_t n0 = 0; n0 < N; n0 += nr) {
    int64_t cols = std::min<int64_t>(nr, N - n0);
    for (int64_t k0 = 0; k0 < Kp; k0 += g, dst += nr * g)
      for (int64_t c = 0; c < cols; ++c) {
        const In *src = w + (n0 + c) * sn + k0 * sk;
        for (int64_t i = 0; i < g && k0 + i < K; ++i)
          dst[c * g + i] = Out(src[i * sk]);
      }
  }
}

/// vpdpbusd variants read u8 = a + 128: their sums carry 128 * sum_k w,
/// which the epilogue subtracts. `code(n, k)` is the int8 code the kernel
/// multiplies; one entry per column of whole panels.
template <typename Code>
std::vector<int32_t> u8Correction(int64_t N, int64_t K, int64_t paddedN, Code code) {
  std::vector<int32_t> comp(paddedN, 0);
  for (int64_t n = 0; n < N; ++n) {
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k)
      sum += code(n, k);
    comp[n] = 128 * sum;
  }
  return comp;
}

template <typename In>
PackedWeights packInt8Panels(const In *w, int64_t N, int64_t K, int64_t sn, int64_t sk,
                             const GemmTiling &t) {
  PackedWeights p;
  p.N = N;
  p.K = K;
  p.Kp = (K + t.kGroup - 1) / t.kGroup * t.kGroup;
  p.panels = (N + t.nr - 1) / t.nr;
  packPanels(w, N, K, sn, sk, t.nr, t.kGroup, p.Kp, p.bytes);
  if (t.kGroup == 4)
    p.comp = u8Correction(N, K, p.panels * t.nr,
                          [&](int64_t n, int64_t k) { return int32_t(w[n * sn + k * sk]); });
  return p;
}
} // namespace

PackedWeights GemmEngine::packInt8(const int8_t *w, int64_t N, int64_t K) const {
  return packInt8Panels(w, N, K, K, 1, tiling_);
}

std::optional<PackedWeights> GemmEngine::packInt8SignPairs(const int8_t *w, int64_t N,
                                                           int64_t K) const {
  if (!gemmKindAvailable(GemmKind::Int8SignPairs, isa_))
    return std::nullopt;
  const GemmTiling t = gemmTiling(isa_, GemmKind::Int8SignPairs);
  const int64_t nr = t.nr, quads = (K + 3) / 4, lanes = 2 * nr; // 16-bit lanes
  // A slot is a k quad of the panel's columns, as the kernel multiplies it.
  // vpsignb cannot negate -128, so a quad holding -128 becomes two slots
  // on the same A codes: itself with -127 there, and a "rest" of -1 there
  // (0 elsewhere).
  struct Slot {
    int64_t quad;
    bool rest;
  };
  // The panel being packed: nr columns of 4 x quads codes, zero-padded.
  const int64_t Kp = 4 * quads;
  std::vector<int8_t> tile(nr * Kp);
  auto slotCode = [&](int64_t c, const Slot &s, int64_t i) -> int8_t {
    int8_t v = tile[c * Kp + 4 * s.quad + i];
    return s.rest ? int8_t(v == -128 ? -1 : 0) : std::max<int8_t>(v, -127);
  };
  PackedWeights p;
  p.N = N;
  p.K = K;
  p.kind = GemmKind::Int8SignPairs;
  p.panels = (N + nr - 1) / nr;
  std::vector<std::vector<Slot>> order(p.panels); // per panel: pairs, then singles
  std::vector<int32_t> pairs(p.panels);
  std::vector<Slot> block, singles;
  std::vector<int32_t> laneSum, peak; // per slot of the block (and lane): sum |b|
  std::vector<size_t> byPeak;
  std::vector<char> used;
  auto loadTile = [&](int64_t panel) {
    std::fill(tile.begin(), tile.end(), 0);
    for (int64_t c = 0; c < nr && panel * nr + c < N; ++c)
      std::copy_n(w + (panel * nr + c) * K, K, tile.begin() + c * Kp);
  };
  for (int64_t panel = 0; panel < p.panels; ++panel) {
    loadTile(panel);
    std::vector<Slot> &seq = order[panel];
    singles.clear();
    // Two slots may share 16 bits when no lane can pass 2^15 - 1: with
    // |a| <= 128, when every lane's sum |b| over both is at most 255.
    // Greedy: the heaviest slot left takes the lightest one it fits with.
    // Slots pair within blocks of kBlock quads, so that the kernel's reads
    // of A stay near each other (and in cache) as it walks the pairs.
    constexpr int64_t kBlock = 32;
    for (int64_t q0 = 0; q0 < quads; q0 += kBlock) {
      block.clear();
      for (int64_t q = q0; q < std::min(quads, q0 + kBlock); ++q) {
        block.push_back({q, false});
        bool hasMin = false;
        for (int64_t c = 0; c < nr; ++c)
          for (int64_t i = 0; i < 4; ++i)
            hasMin |= tile[c * Kp + 4 * q + i] == -128;
        if (hasMin)
          block.push_back({q, true});
      }
      laneSum.assign(block.size() * lanes, 0);
      peak.assign(block.size(), 0);
      for (size_t b = 0; b < block.size(); ++b)
        for (int64_t l = 0; l < lanes; ++l) {
          int32_t &sum = laneSum[b * lanes + l];
          sum = std::abs(slotCode(l / 2, block[b], 2 * (l % 2))) +
                std::abs(slotCode(l / 2, block[b], 2 * (l % 2) + 1));
          peak[b] = std::max(peak[b], sum);
        }
      byPeak.resize(block.size());
      std::iota(byPeak.begin(), byPeak.end(), 0);
      std::stable_sort(byPeak.begin(), byPeak.end(),
                       [&](size_t a, size_t b) { return peak[a] > peak[b]; });
      used.assign(block.size(), 0);
      for (size_t i = 0, light = byPeak.size(); i < byPeak.size(); ++i) {
        size_t a = byPeak[i];
        if (used[a])
          continue;
        used[a] = 1;
        while (light > 0 && used[byPeak[light - 1]])
          --light;
        // A few of the lightest slots left; past them, a stays single.
        std::optional<size_t> partner;
        for (size_t j = light, tries = 0; j > i + 1 && tries < 8; --j) {
          size_t c = byPeak[j - 1];
          if (used[c])
            continue;
          ++tries;
          bool fits = true;
          for (int64_t l = 0; l < lanes && fits; ++l)
            fits = laneSum[a * lanes + l] + laneSum[c * lanes + l] <= 255;
          if (fits) {
            partner = c;
            break;
          }
        }
        if (!partner) {
          singles.push_back(block[a]);
          continue;
        }
        used[*partner] = 1;
        seq.push_back(block[a]);
        seq.push_back(block[*partner]);
      }
    }
    pairs[panel] = int32_t(seq.size() / 2);
    seq.insert(seq.end(), singles.begin(), singles.end());
  }
  // Every panel gets as many slots as the one with the most (the kernel
  // finds panels by their number); each header says how many it uses.
  int64_t slots = 0;
  for (const auto &seq : order)
    slots = std::max<int64_t>(slots, seq.size());
  p.Kp = 4 * slots;
  const int64_t header = signPairsHeaderBytes(slots), panelBytes = header + slots * nr * 4;
  p.bytes.assign(p.panels * panelBytes, 0);
  for (int64_t panel = 0; panel < p.panels; ++panel) {
    loadTile(panel);
    const std::vector<Slot> &seq = order[panel];
    int8_t *dst = p.bytes.data() + panel * panelBytes;
    int32_t count = int32_t(seq.size());
    std::memcpy(dst, &pairs[panel], 4);
    std::memcpy(dst + 4, &count, 4);
    for (int32_t j = 0; j < count; ++j) {
      int32_t offset = int32_t(8 * seq[j].quad); // the quad's codes in an A row
      std::memcpy(dst + 8 + 4 * j, &offset, 4);
      int8_t *b = dst + header + j * nr * 4;
      for (int64_t c = 0; c < nr; ++c)
        for (int64_t i = 0; i < 4; ++i)
          b[c * 4 + i] = slotCode(c, seq[j], i);
    }
  }
  return p;
}

PackedWeights GemmEngine::packInt4(const int8_t *w, int64_t N, int64_t K) const {
  // The int8 layout over K rounded to whole k step pairs, then each pair of
  // k steps folded into one: step 2j in the low nibbles, 2j + 1 in the high.
  const GemmTiling &t = tiling_;
  int64_t pair = 2 * t.kGroup, Kp = (K + pair - 1) / pair * pair;
  std::vector<int8_t> padded(N * Kp, 0);
  for (int64_t n = 0; n < N; ++n)
    std::copy(w + n * K, w + (n + 1) * K, padded.begin() + n * Kp);
  PackedWeights p = packInt8Panels(padded.data(), N, Kp, Kp, 1, t);
  p.K = K;
  p.kind = GemmKind::Int4;
  int64_t stepBytes = t.nr * t.kGroup; // one k step of a panel
  std::vector<int8_t> nibbles(p.bytes.size() / 2);
  for (size_t at = 0, out = 0; at < p.bytes.size(); at += 2 * stepBytes)
    for (int64_t e = 0; e < stepBytes; ++e, ++out)
      nibbles[out] = int8_t((p.bytes[at + e] & 0xf) | (p.bytes[at + stepBytes + e] << 4));
  p.bytes = std::move(nibbles);
  return p;
}

std::optional<PackedWeights> GemmEngine::packInt4Grouped(const int8_t *q,
                                                         const uint8_t *multipliers, int64_t N,
                                                         int64_t K, int64_t G) const {
  const GemmTiling &t = tiling_;
  int64_t pair = 2 * t.kGroup;
  if (G < 1 || K < 1 || K % G || (K / G) % pair)
    return std::nullopt;
  int64_t steps = K / G / pair; // k step pairs per group: 2^j, j >= 0
  if (steps & (steps - 1))
    return std::nullopt;
  for (int64_t i = 0; i < N * G; ++i)
    if (multipliers[i] < 1 || multipliers[i] > 16)
      return std::nullopt;
  PackedWeights p = packInt4(q, N, K);
  p.kind = GemmKind::Int4Grouped;
  p.groupShift = llvm::Log2_64(uint64_t(steps));
  p.multipliers.assign(p.panels * G * t.nr, 0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g)
      p.multipliers[((n / t.nr) * G + g) * t.nr + n % t.nr] = multipliers[n * G + g];
  if (!p.comp.empty()) // of the INT8 codes the kernel makes
    p.comp = u8Correction(N, K, p.panels * t.nr, [&](int64_t n, int64_t k) {
      return int32_t(q[n * K + k]) * multipliers[n * G + k / (K / G)];
    });
  return p;
}

PackedWeights GemmEngine::packInt8(const int32_t *w, int64_t N, int64_t K, int64_t strideN,
                                   int64_t strideK) const {
  return packInt8Panels(w, N, K, strideN, strideK, tiling_);
}

PackedWeights GemmEngine::packInt8(const int8_t *w, int64_t N, int64_t K, int64_t strideN,
                                   int64_t strideK) const {
  return packInt8Panels(w, N, K, strideN, strideK, tiling_);
}

PackedWeights GemmEngine::packF32(const float *w, int64_t N, int64_t K) const {
  return packF32(w, N, K, K, 1);
}

PackedWeights GemmEngine::packF32(const float *w, int64_t N, int64_t K, int64_t strideN,
                                  int64_t strideK) const {
  PackedWeights p;
  p.N = N;
  p.K = K;
  p.Kp = K;
  p.kind = GemmKind::F32;
  p.panels = (N + tiling_.nr - 1) / tiling_.nr;
  packPanels(w, N, K, strideN, strideK, tiling_.nr, 1, K, p.floats);
  return p;
}

namespace {
/// A row of codes (Kp a multiple of 4) in QuantizedRows::signMag's form.
void toSignMagnitude(const int16_t *codes, int64_t Kp, int8_t *out) {
  for (int64_t q = 0; q < Kp / 4; ++q, codes += 4, out += 8)
    for (int i = 0; i < 4; ++i) {
      out[i] = int8_t(codes[i]);
      out[4 + i] = int8_t(uint8_t(codes[i] < 0 ? -codes[i] : codes[i]));
    }
}
} // namespace

void GemmEngine::quantizeRows(const float *x, int64_t M, int64_t K, QuantizedRows &out,
                              float staticScale, ThreadPool *pool,
                              const RowPrologue *prologue, RowReaders readers) const {
  const unsigned g = tiling_.kGroup;
  out.M = M;
  out.Kp = (K + 2 * g - 1) / (2 * g) * (2 * g); // whole k step pairs, for INT4 weights
  out.scale.resize(M);
  out.unsignedCodes = false;
  bool bytes = g == 4;
  bool signMag = readers != RowReaders::Others &&
                 gemmKindAvailable(GemmKind::Int8SignPairs, isa_);
  bool i16 = !bytes && !(signMag && readers == RowReaders::SignPairs);
  out.u8.resize(bytes ? M * out.Kp : 0);
  out.i16.resize(i16 ? M * out.Kp : 0);
  out.signMag.resize(signMag ? 2 * M * out.Kp : 0);
  parallelForIfWorth(pool, M, double(M) * K, double(1 << 15), [&](int64_t m0, int64_t m1) {
    std::vector<float> made(prologue ? K : 0);
    std::vector<int16_t> scratch(bytes || i16 ? 0 : out.Kp); // codes on their way to signMag
    for (int64_t m = m0; m < m1; ++m) {
      const float *row = x + m * K;
      if (prologue) {
        (*prologue)(row, made.data());
        row = made.data();
      }
      float scale = staticScale;
      if (!(scale > 0))
        scale = dynamicScale(rowAbsMax(row, K), 127.0);
      out.scale[m] = scale;
      // Saturating to int8's range, as the interpreter's quantize does (only
      // static scales reach -128).
      if (bytes) {
        uint8_t *q = out.u8.data() + m * out.Kp;
        rowCodes(row, K, scale, -128, 127, 128, q);
        std::fill(q + K, q + out.Kp, uint8_t(128));
      } else {
        int16_t *q = i16 ? out.i16.data() + m * out.Kp : scratch.data();
        rowCodes(row, K, scale, -128, 127, q);
        std::fill(q + K, q + out.Kp, int16_t(0));
        if (signMag)
          toSignMagnitude(q, out.Kp, out.signMag.data() + 2 * m * out.Kp);
      }
    }
  });
}

namespace {
/// Codes (int8, or u8 when `isUnsigned`) into the layout the int8 kernel
/// broadcasts: i16 for the vpmaddwd variants; bytes for vpdpbusd, int8
/// shifted by +128 (the kernel corrects for it), u8 as they are.
template <typename Code>
void loadCodes(const Code *q, const float *scales, int64_t M, int64_t K, bool isUnsigned,
               unsigned g, bool signMag, QuantizedRows &out) {
  out.M = M;
  out.Kp = (K + 2 * g - 1) / (2 * g) * (2 * g); // whole k step pairs, for INT4 weights
  out.scale.assign(scales, scales + M);
  out.unsignedCodes = isUnsigned;
  bool bytes = g == 4;
  // Padding multiplies zero weights; any value will do.
  (bytes ? out.u8.assign(M * out.Kp, 0) : out.i16.assign(M * out.Kp, 0));
  int32_t shift = bytes && !isUnsigned ? 128 : 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) {
      if (bytes)
        out.u8[m * out.Kp + k] = uint8_t(int32_t(q[m * K + k]) + shift);
      else
        out.i16[m * out.Kp + k] = int16_t(q[m * K + k]);
    }
  out.signMag.resize(signMag && !isUnsigned && !bytes ? 2 * M * out.Kp : 0);
  for (int64_t m = 0; m < M && !out.signMag.empty(); ++m)
    toSignMagnitude(out.i16.data() + m * out.Kp, out.Kp, out.signMag.data() + 2 * m * out.Kp);
}
} // namespace

void GemmEngine::loadRows(const int8_t *q, const float *scales, int64_t M, int64_t K,
                          QuantizedRows &out) const {
  loadCodes(q, scales, M, K, /*isUnsigned=*/false, tiling_.kGroup,
            gemmKindAvailable(GemmKind::Int8SignPairs, isa_), out);
}

void GemmEngine::loadRows(const int32_t *q, const float *scales, int64_t M, int64_t K,
                          bool isUnsigned, QuantizedRows &out) const {
  loadCodes(q, scales, M, K, isUnsigned, tiling_.kGroup, /*signMag=*/false, out);
}

namespace {
/// Below this many multiply-adds, handing work to another thread costs more
/// than it saves. The pool's workers spin between calls, so the hand-off is
/// cheap: with `sqc bench gemm`, M = 1 at 768 x 768 (0.6M) already runs
/// faster on two threads, and decode steps gain from the second core's
/// memory bandwidth.
constexpr double kMinParallelMacs = 5e5;

} // namespace

void GemmEngine::int8Gemm(const QuantizedRows &a, const PackedWeights &w, const float *wScale,
                          const float *bias, const float *residual, float *c, int64_t ldc,
                          ThreadPool *pool, const int32_t *zeroComp) const {
  const void *A = w.kind == GemmKind::Int8SignPairs ? static_cast<const void *>(a.signMag.data())
                  : tiling_.kGroup == 4             ? static_cast<const void *>(a.u8.data())
                                                    : static_cast<const void *>(a.i16.data());
  // The rows must hold the layout the kernel reads (sign pairs: signed
  // codes only); a caller that asked for other layouts is a bug.
  size_t need = w.kind == GemmKind::Int8SignPairs ? a.signMag.size() / 2
                : tiling_.kGroup == 4             ? a.u8.size()
                                                  : a.i16.size();
  if (int64_t(need) != a.M * a.Kp)
    llvm::report_fatal_error(llvm::Twine(gemmKernelName(w.kind, isa_)) +
                             ": the rows are not in the layout it reads");
  // Unsigned codes reach vpdpbusd unshifted: only their zero point, if
  // any, to correct.
  const int32_t *comp = a.unsignedCodes ? zeroComp
                        : w.comp.empty() ? nullptr
                                         : w.comp.data();
  auto call = [&](int64_t p0, int64_t p1) {
    gemmKernel(w.kind)(A, a.Kp, w.bytes.data(), c, ldc, a.M, w.N, w.Kp, p0, p1, a.scale.data(),
                     wScale, bias, residual, comp, w.multipliers.data(), w.groupShift);
  };
  parallelForIfWorth(pool, w.panels, double(a.M) * double(w.N) * double(w.K),
                     kMinParallelMacs, call);
}

void GemmEngine::f32Gemm(const float *a, int64_t lda, int64_t M, const PackedWeights &w,
                         const float *bias, const float *residual, float *c, int64_t ldc,
                         ThreadPool *pool) const {
  auto call = [&](int64_t p0, int64_t p1) {
    gemmKernel(GemmKind::F32)(a, lda, w.floats.data(), c, ldc, M, w.N, w.K, p0, p1, nullptr,
                              nullptr, bias, residual, nullptr, nullptr, 0);
  };
  parallelForIfWorth(pool, w.panels, double(M) * double(w.N) * double(w.K),
                     kMinParallelMacs, call);
}

} // namespace sqc
