import Logging
import ServiceLifecycle

enum ServiceGroupBuilder {
    static func group(services: [any Service], logger: Logger) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }
}
