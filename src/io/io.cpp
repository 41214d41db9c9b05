// Placeholder until the format readers land; keeps the target buildable.
namespace ttlm::io {}
