// The declarations in cfuzz.h are all this target provides; a C target needs one source file.
#include "cfuzz.h"
