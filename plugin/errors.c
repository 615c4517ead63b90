/* Engine status codes (compute/status.h) → one translated sentence each, for gimp_message and the
 * procedure's error return (style.md §4.5). The engine's own detail line (which file, which tensor)
 * is appended by the caller; it stays untranslated because it names things, not situations. */
#include "plugin.h"

const char *plugin_status_text(enum lw_status status) {
    switch (status) {
    case LW_OK:
        return _("Done.");
    case LW_ERR_ARGUMENT:
        return _("A parameter is outside its allowed range.");
    case LW_ERR_SHAPE:
        return _("The model files do not fit together.");
    case LW_ERR_UNSUPPORTED:
        return _("This version of lorweb cannot do that yet.");
    case LW_ERR_FILE:
        return _("A model file could not be read.");
    case LW_ERR_FORMAT:
        return _("A model file is damaged or not what its name says.");
    case LW_ERR_MISSING:
        return _("Model files are missing or incomplete.");
    case LW_ERR_DTYPE:
        return _("A model file stores numbers in a type lorweb cannot use.");
    case LW_ERR_NO_VULKAN:
        return _("No Vulkan driver was found. Install the Vulkan driver for your graphics card, or "
                 "Mesa's software driver (package mesa-vulkan-drivers).");
    case LW_ERR_NO_DEVICE:
        return _("No usable Vulkan device was found.");
    case LW_ERR_DEVICE_MEMORY:
        return _("The graphics card ran out of memory. Try a smaller working size.");
    case LW_ERR_HOST_MEMORY:
        return _("The computer ran out of memory.");
    case LW_ERR_DEVICE_LOST:
        return _("The graphics driver stopped responding (device lost).");
    case LW_ERR_VULKAN:
        return _("The graphics driver reported an error.");
    case LW_ERR_TOO_LARGE:
        return _("The image is too large for this graphics card. Try a smaller working size.");
    case LW_ERR_CANCELLED:
        return _("Cancelled.");
    }
    return _("Unknown error.");
}
