// Timing driver for tools/cpp_side_by_side.py (oscbench's own code, not the authors').
//
// It is compiled against a checkout of the authors' C++ (khurramjaved96/Columnar-Constructive-Networks)
// that the user gives by path, and links their network and environment sources unchanged; nothing of
// theirs is copied here. It builds one of their learners through its public constructor, generates the
// input stream with their TracePatterning environment before the clock starts (as `oscbench speed`
// generates its stream before timing), then times the learning loop of their
// experiment_animal_learning.cpp (decay_gradient, backward(stage), forward, TD error,
// update_parameters(stage)) with the process CPU clock. Their experiment's database writes, running
// error and console output are left out: `oscbench speed` records no metrics either.
//
// usage: driver ALGO N_INPUTS STEPS [options]
//   ALGO: hybrid | columnar | constructive   --columns N --per-stage K --steps-per-stage S
//         tbptt (their DenseLSTMRmsProp)       --hidden H --truncation T
//   common: --step-size A --std-cap V --decay B --lambda L --seed N --pool P
// Prints one JSON object on stdout.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "include/environments/animal_learning/tracecondioning.h"
#include "include/nn/networks/base_lstm.h"
#include "include/nn/networks/lstm_bptt.h"
#include "include/nn/networks/lstm_incremental_networks.h"

static double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double wall_now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s ALGO N_INPUTS STEPS [--opt value ...]\n", argv[0]);
    return 2;
  }
  std::string algo = argv[1];
  int n_inputs = std::atoi(argv[2]);
  long steps = std::atol(argv[3]);
  int columns = 20, per_stage = 4, hidden = 2, truncation = 30, seed = 0;
  long steps_per_stage = 0, pool_size = 1000000;
  float step_size = 3e-4f, std_cap = 0.1f, decay = 0.99999f, lambda = 0.99f, gamma = 0.9f;
  for (int i = 4; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char *v = argv[i + 1];
    if (k == "--columns") columns = std::atoi(v);
    else if (k == "--per-stage") per_stage = std::atoi(v);
    else if (k == "--steps-per-stage") steps_per_stage = std::atol(v);
    else if (k == "--hidden") hidden = std::atoi(v);
    else if (k == "--truncation") truncation = std::atoi(v);
    else if (k == "--step-size") step_size = std::atof(v);
    else if (k == "--std-cap") std_cap = std::atof(v);
    else if (k == "--decay") decay = std::atof(v);
    else if (k == "--lambda") lambda = std::atof(v);
    else if (k == "--seed") seed = std::atoi(v);
    else if (k == "--pool") pool_size = std::atol(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }

  // The stream: their trace-patterning environment (ISI 24-36, ITI 80-120, 5 distractors: 12 features,
  // the last one the US), as in their experiment; zero-padded to n_inputs for the Atari-sized cases.
  // A pool of min(steps, pool) steps is generated before the clock starts and cycled.
  TracePatterning env({24, 36}, {80, 120}, 5, seed);
  long pool_n = std::min(steps + 1, pool_size);
  std::vector<std::vector<float>> xs;
  std::vector<float> us;
  xs.reserve(pool_n);
  us.reserve(pool_n);
  std::vector<float> x = env.reset();
  for (long i = 0; i < pool_n; i++) {
    std::vector<float> padded(std::max<size_t>(n_inputs, x.size()), 0.0f);
    std::copy(x.begin(), x.end(), padded.begin());
    padded.resize(n_inputs);
    xs.push_back(padded);
    us.push_back(env.get_US());
    x = env.step();
  }

  BaseLSTM *network;
  int n_stages = 1;
  if (algo == "tbptt") {
    network = new DenseLSTMRmsProp(step_size, seed, hidden, n_inputs, truncation, 0.9999f, 1e-8f);
  } else {
    if (algo == "columnar") per_stage = columns;
    else if (algo == "constructive") per_stage = 1;
    else if (algo != "hybrid") {
      std::fprintf(stderr, "unknown algorithm %s\n", algo.c_str());
      return 2;
    }
    network = new IncrementalNetworks(step_size, seed, n_inputs, 1, columns, per_stage, std_cap, decay);
    n_stages = (columns + per_stage - 1) / per_stage;
  }
  if (steps_per_stage <= 0) steps_per_stage = steps + 1;  // one stage for the whole run

  // Their loop (experiment_animal_learning.cpp): the stage index goes up when
  // i % steps_per_stage == steps_per_stage - 1, so their first stage is one step short. We keep their
  // rule but stop at the last stage (their loop would step past it on a run's final step).
  int layer = 0;
  long stage_changes = 0;
  double c0 = cpu_now(), w0 = wall_now();
  float old_pred = network->forward(xs[0]);
  for (long i = 0; i < steps; i++) {
    if (i % steps_per_stage == steps_per_stage - 1 && layer < n_stages - 1) {
      layer++;
      stage_changes++;
    }
    long j = (i + 1) % pool_n;
    network->decay_gradient(lambda * gamma);
    network->backward(layer);
    float pred = network->forward(xs[j]);
    float target = us[j] + gamma * pred;
    float error = target - old_pred;
    network->update_parameters(layer, error);
    old_pred = pred;
  }
  double cpu = cpu_now() - c0, wall = wall_now() - w0;
  std::printf(
      "{\"algo\": \"%s\", \"n_inputs\": %d, \"steps\": %ld, \"cpu_seconds\": %.6f, \"wall_seconds\": %.6f, "
      "\"per_cpu_second\": %.3f, \"stages\": %d, \"stages_visited\": %d, \"steps_per_stage\": %ld, "
      "\"last_prediction\": %.6g}\n",
      algo.c_str(), n_inputs, steps, cpu, wall, steps / cpu, n_stages, layer + 1, steps_per_stage,
      old_pred);
  return 0;
}
