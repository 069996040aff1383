import Checkpoint
import TestSupport

/// Opens the tiny checkpoint's tensors and configuration.
enum CheckpointStoreLoader {
    static func store() throws -> CheckpointStore { try CheckpointStore(directory: Fixtures.tinyModel) }
    static func configuration() throws -> InternVLConfiguration { try InternVLConfiguration(directory: Fixtures.tinyModel) }
}
