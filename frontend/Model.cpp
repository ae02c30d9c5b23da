//===- frontend/Model.cpp - Loading and writing whole models --------------===//
#include "frontend/Model.h"

#include "frontend/BPETokenizer.h"
#include "frontend/Importers.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"
#include "runtime/ConstEval.h"

#include "llvm/ADT/StringSet.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace sqc {

namespace {

std::string absolute(llvm::StringRef path) {
  llvm::SmallString<256> p(path);
  llvm::sys::fs::make_absolute(p);
  llvm::sys::path::remove_dots(p, /*remove_dot_dot=*/true);
  return p.str().str();
}

/// Opens a tokenizer by its file: tokenizer.json (byte-level BPE),
/// vocab.json (GPT-2, with merges.txt beside it) or a llama2.c tokenizer.bin.
llvm::Expected<std::unique_ptr<Tokenizer>> openTokenizer(llvm::StringRef path) {
  auto wrap = [](auto t) -> llvm::Expected<std::unique_ptr<Tokenizer>> {
    if (!t)
      return t.takeError();
    return std::unique_ptr<Tokenizer>(std::move(*t));
  };
  llvm::StringRef file = llvm::sys::path::filename(path);
  if (file == "vocab.json")
    return wrap(ByteLevelBPETokenizer::loadGpt2(
        path, joinPath(llvm::sys::path::parent_path(path), "merges.txt")));
  if (file.ends_with(".json"))
    return wrap(ByteLevelBPETokenizer::loadTokenizerJson(path));
  return wrap(Llama2cTokenizer::load(path));
}

/// Opens the tokenizer of an imported model and records it, with the longest
/// sequence, in the module, so that a written module is complete.
llvm::Error attachTokenizer(LoadedModel &lm, llvm::StringRef path) {
  auto tk = openTokenizer(path);
  if (!tk)
    return tk.takeError();
  lm.tokenizer = std::move(*tk);
  lm.module->setAttr("tokenizer", absolute(path));
  lm.module->setAttr("max_seq", lm.maxSeq);
  return llvm::Error::success();
}

/// The tokenizer a Hugging Face folder brings, in order of preference.
std::string findTokenizer(llvm::StringRef dir) {
  for (const char *name : {"tokenizer.json", "vocab.json", "tokenizer.bin"})
    if (llvm::sys::fs::exists(joinPath(dir, name)))
      return joinPath(dir, name);
  return "";
}

llvm::Expected<LoadedModel> loadHF(llvm::StringRef dir, llvm::StringRef tokPath) {
  std::string configPath = joinPath(dir, "config.json");
  auto config = readJsonFile(configPath);
  if (!config)
    return config.takeError();
  std::string arch = "?";
  const nlohmann::json &archs = (*config)["architectures"];
  if (archs.is_array() && !archs.empty() && archs[0].is_string())
    arch = archs[0].get<std::string>();
  HFImporter importer = importerFor(arch);
  if (!importer)
    return importError(configPath + ": unknown architecture '" + arch +
                       "' (sqc imports LlamaForCausalLM, OPTForCausalLM, "
                       "GPT2LMHeadModel)");
  std::string weightsPath = joinPath(dir, "model.safetensors");
  if (llvm::sys::fs::exists(joinPath(dir, "model.safetensors.index.json")))
    weightsPath = joinPath(dir, "model.safetensors.index.json");
  auto store = SafeTensorsWeights::open(weightsPath);
  if (!store)
    return store.takeError();

  LoadedModel lm;
  lm.module = std::make_unique<Module>();
  auto maxSeq = importer(HFModelFiles{configPath, *config, **store}, *lm.module);
  if (!maxSeq)
    return maxSeq.takeError();
  if (llvm::Error e = checkWeights(*lm.module, **store))
    return e;
  lm.maxSeq = *maxSeq;
  lm.description = arch + " (Hugging Face folder " + dir.str() + ")";
  lm.weights = std::move(*store);
  lm.module->setAttr("weights", absolute(weightsPath));
  std::string t = tokPath.empty() ? findTokenizer(dir) : tokPath.str();
  if (t.empty())
    return importError(dir + ": no tokenizer found (tokenizer.json, vocab.json + merges.txt or tokenizer.bin); pass --tokenizer FILE");
  if (llvm::Error e = attachTokenizer(lm, t))
    return e;
  return lm;
}

llvm::Expected<LoadedModel> loadLlama2c(llvm::StringRef path, llvm::StringRef tokPath) {
  auto lm = loadLlama2cCheckpoint(path);
  if (!lm)
    return lm.takeError();
  std::string t = tokPath.str();
  if (t.empty()) {
    // llama2.c keeps its tokenizer beside the model under a few names.
    for (const char *name : {"tokenizer.bin", "tok512.bin"}) {
      std::string cand = joinPath(llvm::sys::path::parent_path(path), name);
      if (llvm::sys::fs::exists(cand)) {
        t = cand;
        break;
      }
    }
    if (t.empty())
      return importError(path + ": a llama2.c checkpoint brings no tokenizer; "
                                "pass --tokenizer FILE");
  }
  if (llvm::Error e = attachTokenizer(*lm, t))
    return e;
  return lm;
}

llvm::Expected<LoadedModel> loadSqir(llvm::StringRef path, llvm::StringRef tokPath) {
  std::string diagText;
  llvm::raw_string_ostream os(diagText);
  DiagnosticEngine diag(os);
  LoadedModel lm;
  lm.module = parseFile(path, diag);
  if (!lm.module || failed(verify(*lm.module, diag)))
    return importError(llvm::StringRef(diagText).rtrim());
  const Graph *g = lm.module->lookupGraph("forward");
  if (!g || g->numArguments() < 2 || g->resultTypes().empty() ||
      g->numArguments() != g->resultTypes().size() + 1)
    return importError(path + ": needs graph @forward(%tokens, %positions, "
                              "caches...) -> (logits, caches...)");
  lm.description = "sqc module " + path.str();
  const Attribute *maxSeq = lm.module->attr("max_seq");
  lm.maxSeq = maxSeq && maxSeq->kind() == AttrKind::Int ? maxSeq->getInt() : 2048;
  const Attribute *w = lm.module->attr("weights");
  if (w && w->kind() == AttrKind::String) {
    auto store = SafeTensorsWeights::open(resolveBeside(path, w->getString()));
    if (!store)
      return store.takeError();
    if (llvm::Error e = checkWeights(*lm.module, **store))
      return e;
    lm.weights = std::move(*store);
  }
  std::string t = tokPath.str();
  if (const Attribute *ta = lm.module->attr("tokenizer");
      t.empty() && ta && ta->kind() == AttrKind::String)
    t = resolveBeside(path, ta->getString());
  if (t.empty())
    return importError(path + ": the module names no tokenizer; pass --tokenizer FILE");
  auto tk = openTokenizer(t);
  if (!tk)
    return tk.takeError();
  lm.tokenizer = std::move(*tk);
  return lm;
}

} // namespace

HFImporter importerFor(llvm::StringRef architecture) {
  if (architecture == "LlamaForCausalLM")
    return importLlama;
  if (architecture == "OPTForCausalLM")
    return importOpt;
  if (architecture == "GPT2LMHeadModel")
    return importGpt2;
  return nullptr;
}

LoadedModel::LoadedModel() = default;
LoadedModel::LoadedModel(LoadedModel &&) = default;
LoadedModel &LoadedModel::operator=(LoadedModel &&) = default;
LoadedModel::~LoadedModel() = default;

llvm::Error compileModel(LoadedModel &m, const JitOptions &options) {
  m.compiled.reset();
  auto cg = CompiledGraph::compile(m.forward(), m.weights.get(), options);
  if (!cg)
    return cg.takeError();
  m.compiled = std::move(*cg);
  return llvm::Error::success();
}

llvm::Expected<Tensor> runForward(LoadedModel &m, llvm::ArrayRef<int32_t> tokens,
                                  int64_t start, std::vector<Tensor> &cache,
                                  const ValueObserver *observe) {
  const Graph &g = m.forward();
  int64_t n = tokens.size();
  Tensor tok(DType::I32, {n}), pos(DType::I32, {n});
  for (int64_t i = 0; i < n; ++i) {
    tok.ints()[i] = tokens[i];
    pos.ints()[i] = int32_t(start + i);
  }
  if (cache.empty())
    for (unsigned a = 2; a < g.numArguments(); ++a) {
      // A cache argument is [?past, ...static]: start with zero rows.
      llvm::SmallVector<int64_t, 4> shape = {0};
      for (const Dim &d : g.argument(a)->type().dims().drop_front())
        shape.push_back(d.isStatic() ? d.size() : 0);
      cache.emplace_back(g.argument(a)->type().dtype(), shape);
    }
  std::vector<Tensor> inputs = {std::move(tok), std::move(pos)};
  for (Tensor &t : cache)
    inputs.push_back(std::move(t));
  auto out = m.compiled ? m.compiled->run(std::move(inputs), observe)
                        : runGraph(g, std::move(inputs), m.weights.get(), observe);
  if (!out)
    return out.takeError();
  cache.assign(std::make_move_iterator(out->begin() + 1),
               std::make_move_iterator(out->end()));
  return std::move((*out)[0]);
}

llvm::Expected<LoadedModel> loadModel(llvm::StringRef path,
                                      llvm::StringRef tokenizerPath) {
  if (llvm::sys::fs::is_directory(path)) {
    if (!llvm::sys::fs::exists(joinPath(path, "config.json")))
      return importError(path + ": not a model folder (no config.json)");
    return loadHF(path, tokenizerPath);
  }
  if (!llvm::sys::fs::exists(path))
    return importError(path + ": no such file or folder");
  if (path.ends_with(".sqir"))
    return loadSqir(path, tokenizerPath);
  return loadLlama2c(path, tokenizerPath);
}

/// Constants up to this many elements stay in the module's text.
constexpr int64_t kMaxInlineConstant = 64;

llvm::Error materializeWeights(LoadedModel &m) {
  ConstEvaluator eval(m.weights.get());
  auto out = std::make_unique<InMemoryWeights>(m.description);
  llvm::StringSet<> used;
  auto uniqueName = [&](std::string n) {
    std::string base = n.empty() ? "materialized" : n;
    n = base;
    for (int k = 1; used.contains(n); ++k)
      n = base + "." + std::to_string(k);
    used.insert(n);
    return n;
  };
  for (auto &g : m.module->graphs()) {
    std::vector<Op *> ops;
    for (Op &op : g->ops())
      ops.push_back(&op);
    for (Op *op : ops) {
      // expand_groups stays: its operands (4-bit codes, multipliers) are the
      // smaller form to store, and the JIT expands them when it packs.
      // Small constants stay inline in the text; large ones (scales per
      // channel, group multipliers) go to the weights file.
      bool inlineConstant = op->kind() == OpKind::Constant &&
                            op->result()->type().isStatic() &&
                            *op->result()->type().numElements() <= kMaxInlineConstant;
      if (inlineConstant || op->kind() == OpKind::ExpandGroups || op->numResults() != 1 ||
          !isCompileTimeValue(op->result()))
        continue;
      // Only the frontier: values some run-time op (or expand_groups) reads.
      bool feedsRunTime = false;
      for (const Op *u : op->result()->users())
        feedsRunTime |= u->kind() == OpKind::Return || u->numResults() == 0 ||
                        u->kind() == OpKind::ExpandGroups || !isCompileTimeValue(u->result());
      if (!feedsRunTime)
        continue;
      auto t = eval.evaluate(op->result());
      if (!t)
        return t.takeError();
      std::string name = uniqueName(op->kind() == OpKind::Weight
                                        ? op->stringAttr("name").str()
                                        : op->result()->name().str());
      out->add(name, **t);
      if (op->kind() == OpKind::Weight) {
        op->setAttr("name", name);
        continue;
      }
      OpBuilder b = OpBuilder::before(op);
      Value *w = cantFail(b.value(OpKind::Weight, {}, {{"name", name}},
                                  {op->result()->type()}));
      w->setName(op->result()->name().str());
      op->result()->setName("");
      op->result()->replaceAllUsesWith(w);
    }
    // What only fed the materialized values is dead now.
    g->eraseDeadOps();
  }
  m.weights = std::move(out);
  return llvm::Error::success();
}

llvm::Error writeModel(const LoadedModel &m, llvm::StringRef path) {
  if (auto *mem = dynamic_cast<const InMemoryWeights *>(m.weights.get())) {
    llvm::SmallString<256> st(path);
    llvm::sys::path::replace_extension(st, "safetensors");
    if (llvm::Error e = mem->writeTo(st))
      return e;
    m.module->setAttr("weights", llvm::sys::path::filename(st).str());
  }
  return llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
    printModule(*m.module, os);
    return llvm::Error::success();
  });
}

} // namespace sqc
