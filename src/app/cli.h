#pragma once
namespace ferry {
// Parses the command line and runs the chosen command. Returns the exit
// code: 0 success, 1 runtime failure, 2 usage or configuration error.
int run_cli(int argc, char** argv);
}  // namespace ferry
