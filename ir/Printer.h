//===- ir/Printer.h - Writes the textual IR ---------------------*- C++ -*-===//
//
// The printed form is canonical: parsing it and printing again gives the same
// text. Values keep their names; unnamed values are numbered in order of
// definition (%0, %1, ...), and a name used twice gets a suffix (.1, .2).
//
//===----------------------------------------------------------------------===//
#ifndef SQC_IR_PRINTER_H
#define SQC_IR_PRINTER_H

#include "ir/IR.h"

#include "llvm/Support/raw_ostream.h"

#include <string>

namespace sqc {

void printModule(const Module &m, llvm::raw_ostream &os);
void printGraph(const Graph &g, llvm::raw_ostream &os);
std::string toString(const Module &m);

} // namespace sqc

#endif // SQC_IR_PRINTER_H
