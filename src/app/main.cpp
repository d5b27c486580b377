// ferry: a local egress proxy. Everything lives in ferry_core; this file
// only hands the command line over.
#include "app/cli.h"

int main(int argc, char** argv) { return ferry::run_cli(argc, argv); }
