# lit configuration for sqc's IR tests: `// RUN: sqc-opt %s ... | FileCheck %s`.
import os
import lit.formats

config.name = "sqc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".sqir"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sqc_obj_root, "tests", "lit")

# sqc's tools first, then LLVM's FileCheck, not and count.
config.environment["PATH"] = os.pathsep.join(
    [config.sqc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
if config.sanitized:
    config.available_features.add("sanitized")
    # A leak or UB report fails the test even when the tool exits 1 on purpose.
    config.environment["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=1"
    config.environment["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
