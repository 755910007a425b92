// Placeholder: the local-stack work replaces this with the embedded stack (Cosmos stand-in + Azurite).
export default function globalSetup(): void {}
