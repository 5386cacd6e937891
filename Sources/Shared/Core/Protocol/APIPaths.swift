/// The coordinator's HTTP routes, all under `/v1`.
///
/// Only the `enroll` routes answer without a client certificate. `agent` routes take an agent
/// certificate, `operator` routes an operator certificate; neither can pose as the other.
public enum APIPath {
    // Enrollment (no client certificate).
    public static let enrollCA = "/v1/enroll/ca"
    public static let enroll = "/v1/enroll"
    // Agent routes.
    public static let renew = "/v1/renew"
    public static let heartbeat = "/v1/heartbeat"
    public static let reports = "/v1/reports"
    public static let agentConfig = "/v1/agent/config"
    // Operator routes.
    public static let status = "/v1/status"
    public static let agents = "/v1/agents"
    public static let tokens = "/v1/tokens"
    public static let audit = "/v1/audit"
}

extension APIPath {
    public static let hosts = "/v1/hosts"
    public static let findings = "/v1/findings"
    public static let inventory = "/v1/inventory"
    public static let changes = "/v1/changes"
    /// Agent: `GET /v1/tasks/next?wait=SECONDS` long-poll; `POST /v1/tasks/:id/status`.
    public static let nextTask = "/v1/tasks/next"
    public static func taskStatus(_ id: String) -> String { "/v1/tasks/\(id)/status" }
    /// Agent: `POST` a list it refused before trusting it (`LocalRefusal`).
    public static let taskRefusals = "/v1/tasks/refusals"
    /// Operator: task lists, secrets, plans.
    public static let tasks = "/v1/tasks"
    public static let secrets = "/v1/secrets"
    public static let plan = "/v1/plan"
    public static let segments = "/v1/segments"
}
