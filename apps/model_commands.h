#pragma once
// refine_app predict / evaluate / export (model_command_line.h): each returns the exit code
// (0 done, 1 an input failed) and writes its results to `out`, problems to `err`; an error that
// stops the whole command (a file that is not a model, a dataset not found) is thrown.
#include <ostream>

#include "apps/experiment_data.h"
#include "apps/model_command_line.h"
#include "engine/device.h"

namespace rf::app {

int run_predict(const ModelCommand& c, Device device, std::ostream& out, std::ostream& err);
int run_evaluate(const ModelCommand& c, Device device, const DataLocation& where, std::ostream& out);
int run_export(const ModelCommand& c, std::ostream& out);

}  // namespace rf::app
