//===- codegen/Jit.cpp - Targets and the ORC JIT --------------------------===//
#include "codegen/Jit.h"

#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <map>
#include <mutex>

namespace sqc {

void initializeCodegen() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

namespace {
std::unique_ptr<llvm::MCSubtargetInfo> subtargetOf(const TargetSpec &t) {
  initializeCodegen();
  std::string triple = llvm::sys::getProcessTriple(), error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  return std::unique_ptr<llvm::MCSubtargetInfo>(
      target->createMCSubtargetInfo(triple, t.cpu, t.featureString()));
}
} // namespace

llvm::Error checkTargetOptions(llvm::StringRef mcpu, llvm::StringRef mattr) {
  auto fail = [](const llvm::Twine &msg) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), msg);
  };
  auto sti = subtargetOf(TargetSpec{});
  if (!sti)
    return fail("LLVM has no code generator for this host");
  if (!mcpu.empty() && mcpu != "native" && !sti->isCPUStringValid(mcpu))
    return fail("--mcpu: unknown CPU '" + mcpu +
                "' (`llc-19 -march=x86-64 -mcpu=help` lists them)");
  llvm::SmallVector<llvm::StringRef, 8> parts;
  mattr.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef f : parts) {
    f = f.trim();
    llvm::StringRef name = f.drop_front();
    if (!f.starts_with("+") && !f.starts_with("-"))
      return fail("--mattr: '" + f + "' needs a + (add) or - (remove) sign");
    if (!llvm::is_contained(llvm::map_range(sti->getAllProcessorFeatures(),
                                            [](const llvm::SubtargetFeatureKV &kv) {
                                              return llvm::StringRef(kv.Key);
                                            }),
                            name))
      return fail("--mattr: unknown feature '" + name + "'");
  }
  return llvm::Error::success();
}

std::vector<std::string> featuresTheHostLacks(const TargetSpec &target) {
  // The instruction sets the kernels may use (tuning flags are left out:
  // those differ between CPUs that run the same code).
  static const char *const kIsa[] = {
      "sse4.2",   "avx",      "avx2",     "fma",        "f16c",       "bmi",
      "bmi2",     "avx512f",  "avx512bw", "avx512vl",   "avx512dq",   "avx512cd",
      "avx512vnni", "avx512bf16", "avx512fp16", "avxvnni", "amx-tile"};
  // Every graph compile asks (a loss probe compiles dozens): remember.
  static std::mutex mutex;
  static std::map<std::string, std::vector<std::string>> known;
  std::string key = target.cpu + "|" + target.featureString();
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = known.find(key); it != known.end())
    return it->second;
  TargetSpec host = TargetSpec::host();
  std::vector<std::string> lacking;
  for (const char *f : kIsa) {
    std::string plus = std::string("+") + f;
    if (targetHas(target, plus) && !targetHas(host, plus))
      lacking.push_back(f);
  }
  return known[key] = lacking;
}

bool targetHas(const TargetSpec &target, llvm::StringRef features) {
  // LLVM's subtarget for the CPU and feature list knows what the CPU
  // implies (`--mcpu icelake-server` alone has AVX-512 VNNI) and what a
  // removed feature takes with it (-avx512f).
  auto sti = subtargetOf(target);
  return sti && sti->checkFeatures(features);
}

TargetSpec TargetSpec::host() {
  TargetSpec t;
  t.cpu = llvm::sys::getHostCPUName().str();
  for (const auto &f : llvm::sys::getHostCPUFeatures())
    t.features.push_back((f.second ? "+" : "-") + f.first().str());
  return t;
}

TargetSpec TargetSpec::parse(llvm::StringRef mcpu, llvm::StringRef mattr) {
  TargetSpec t = mcpu.empty() || mcpu == "native" ? host() : TargetSpec{mcpu.str(), {}};
  llvm::SmallVector<llvm::StringRef, 8> parts;
  mattr.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef p : parts)
    t.features.push_back(p.trim().str());
  return t;
}

std::string TargetSpec::featureString() const {
  std::string s;
  for (const std::string &f : features)
    s += (s.empty() ? "" : ",") + f;
  return s;
}

namespace {

llvm::orc::JITTargetMachineBuilder machineBuilder(const TargetSpec &t) {
  llvm::orc::JITTargetMachineBuilder b{llvm::Triple(llvm::sys::getProcessTriple())};
  b.setCPU(t.cpu);
  b.addFeatures(t.features);
  b.setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  return b;
}

/// LLVM's O3 pipeline, tuned for `tm`.
void optimize(llvm::Module &m, llvm::TargetMachine *tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3).run(m, mam);
}

} // namespace

llvm::Expected<std::unique_ptr<Jit>> Jit::create(const TargetSpec &target) {
  initializeCodegen();
  auto builder = machineBuilder(target);
  auto tm = builder.createTargetMachine();
  if (!tm)
    return tm.takeError();
  std::shared_ptr<llvm::TargetMachine> machine = std::move(*tm);
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(builder).create();
  if (!jit)
    return jit.takeError();
  (*jit)->getIRTransformLayer().setTransform(
      [machine](llvm::orc::ThreadSafeModule tsm, const llvm::orc::MaterializationResponsibility &)
          -> llvm::Expected<llvm::orc::ThreadSafeModule> {
        tsm.withModuleDo([&](llvm::Module &m) { optimize(m, machine.get()); });
        return tsm;
      });
  auto j = std::unique_ptr<Jit>(new Jit());
  j->jit_ = std::move(*jit);
  return j;
}

llvm::Error Jit::add(std::unique_ptr<llvm::Module> m,
                     std::unique_ptr<llvm::LLVMContext> ctx) {
  m->setDataLayout(jit_->getDataLayout());
  return jit_->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)));
}

llvm::Expected<void *> Jit::lookup(llvm::StringRef name) {
  auto addr = jit_->lookup(name);
  if (!addr)
    return addr.takeError();
  return addr->toPtr<void *>();
}

namespace {
/// `m` set up for `target` and optimized as the JIT would.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>> optimizeFor(llvm::Module &m,
                                                                  const TargetSpec &target) {
  initializeCodegen();
  auto tm = machineBuilder(target).createTargetMachine();
  if (!tm)
    return tm.takeError();
  m.setDataLayout((*tm)->createDataLayout());
  m.setTargetTriple((*tm)->getTargetTriple().str());
  optimize(m, tm->get());
  return tm;
}
} // namespace

llvm::Expected<std::string> emitOptimizedIR(llvm::Module &m, const TargetSpec &target) {
  auto tm = optimizeFor(m, target);
  if (!tm)
    return tm.takeError();
  std::string out;
  llvm::raw_string_ostream os(out);
  m.print(os, nullptr);
  return out;
}

llvm::Expected<std::string> emitAssembly(llvm::Module &m, const TargetSpec &target) {
  auto tm = optimizeFor(m, target);
  if (!tm)
    return tm.takeError();
  std::string out;
  llvm::raw_string_ostream os(out);
  {
    // The asm printer wants a seekable stream; the buffer lands in `os` when
    // it goes out of scope.
    llvm::buffer_ostream bos(os);
    llvm::legacy::PassManager pm;
    if ((*tm)->addPassesToEmitFile(pm, bos, nullptr, llvm::CodeGenFileType::AssemblyFile))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "the target cannot emit assembly");
    pm.run(m);
  }
  return out;
}

} // namespace sqc
