// Placeholder until the op library lands; keeps the target buildable.
namespace ttlm::ops {}
