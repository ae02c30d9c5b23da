//===- frontend/Importers.h - One importer per architecture -----*- C++ -*-===//
#ifndef SQC_FRONTEND_IMPORTERS_H
#define SQC_FRONTEND_IMPORTERS_H

#include "frontend/ImportSupport.h"
#include "frontend/Model.h"

namespace sqc {

/// What a Hugging Face importer reads: the parsed config.json and the
/// weights (to pick optional tensors such as an untied head).
struct HFModelFiles {
  std::string configPath;
  const nlohmann::json &config;
  WeightStore &weights;
};

/// Builds @forward for the architecture into `m`; returns the longest
/// sequence the model supports.
using HFImporter = llvm::Expected<int64_t> (*)(const HFModelFiles &, Module &m);

llvm::Expected<int64_t> importLlama(const HFModelFiles &f, Module &m);
llvm::Expected<int64_t> importOpt(const HFModelFiles &f, Module &m);
llvm::Expected<int64_t> importGpt2(const HFModelFiles &f, Module &m);

/// The importer for a config.json `architectures` entry, or null.
HFImporter importerFor(llvm::StringRef architecture);

/// Loads a llama2.c checkpoint into an in-memory model (tokenizer not set).
llvm::Expected<LoadedModel> loadLlama2cCheckpoint(llvm::StringRef path);

} // namespace sqc

#endif // SQC_FRONTEND_IMPORTERS_H
