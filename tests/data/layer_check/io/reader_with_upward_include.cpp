// Test input for the layer check (cmake/check_layer_includes.cmake): a file of
// the io layer that includes the runtime layer above it. Never compiled.
#include "config/model_config.h"
#include "runtime/interrupt.h"
