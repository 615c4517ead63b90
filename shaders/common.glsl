// Shared by every kernel: extensions, storage types and small inline helpers only (style.md §4.7).
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : enable
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable

// bf16 is stored as the top 16 bits of an f32; widen with a shift.
float bf16_to_f32(uint bits16) {
    return uintBitsToFloat(bits16 << 16);
}
