#pragma once
// What --control and --teacher add to a report: refined - control test accuracy per generation
// (mean ± std over seeds and the paired 95% interval, apps/paired_interval.h), the calibration
// of both, the teacher's line, and one reliability diagram per generation.
#include <string>
#include <vector>

#include "apps/chain.h"
#include "apps/cli.h"
#include "apps/paired_interval.h"

namespace rf::app {

// The control of seed k's generation g, or nullptr (R1 without a teacher; no --control).
const GenerationResult* control_of(const ChainResults& controls, int seed_index, int generation);

// Generation g's `field` and its control's, for every seed that has both, in seed order.
struct PairedValues {
  std::vector<double> refined, control;
};
PairedValues paired_values(const ChainResults& results, const ChainResults& controls, int generation,
                           double GenerationResult::*field);

// Refined - control test accuracy of generation g over seeds.
PairedInterval control_gain(const ChainResults& results, const ChainResults& controls, int generation);

// "+1.23 ± 0.40" and "[+0.1, +2.4]" in percentage points; "n/a" / "undefined (1 seed)".
std::string gain_text(const PairedInterval& p);
std::string interval_text(const PairedInterval& p);

// The markdown table of refined vs control, one row per refined generation.
std::string control_table(const ChainConfig& c, const ExperimentOutcome& o);
// A paragraph on how generations are numbered and what the controls are.
std::string control_notes(const ChainConfig& c);
// "Teacher (generation 0): ..." on this run's test split, or "" without a teacher.
std::string teacher_line(const ChainConfig& c, const ExperimentOutcome& o);

// The reliability diagram of generation g (0: the teacher), bins pooled over seeds, with its
// control's beside it when there is one.
std::string reliability_svg(const ExperimentOutcome& o, int generation);
std::string reliability_file_name(int generation);  // reliability_R2.svg, reliability_T0.svg

// --table1 --control: a second column per grid cell with the gain and calibration, and the same
// in table1.csv (percentages, like its other columns; NLL in nats).
std::string table1_control_header();
std::string table1_control_cell(const ChainResults& results, const ChainResults& controls, int generation);
std::string table1_control_note();
std::string table1_control_csv_header();
std::string table1_control_csv(const ChainResults& results, const ChainResults& controls, int generation);

}  // namespace rf::app
