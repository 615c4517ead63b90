/* CPU references declared in ref.h. */
#include "ref.h"

#include <math.h>
