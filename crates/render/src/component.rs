//! The six components and four lifecycle tasks, with the facts that differ between them.

use superset_operator_api::task::TaskType;

/// A Deployment-backed component of a Superset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    /// Superset's UI and API under Gunicorn.
    WebServer,
    /// Celery workers.
    CeleryWorker,
    /// Celery beat, the scheduler.
    CeleryBeat,
    /// Celery Flower, the Celery UI.
    CeleryFlower,
    /// The MCP server.
    McpServer,
    /// The websocket server (Node.js).
    WebsocketServer,
}

/// A container port with its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultPort {
    /// Port number.
    pub port: i32,
    /// Port name.
    pub name: &'static str,
}

impl Component {
    /// Every component, in the order the parent reconciles them.
    pub const ALL: [Component; 6] = [
        Component::WebServer,
        Component::CeleryWorker,
        Component::CeleryBeat,
        Component::CeleryFlower,
        Component::McpServer,
        Component::WebsocketServer,
    ];

    /// Suffix of the objects' names (`<superset>-<suffix>`) and value of the component label.
    pub fn suffix(self) -> &'static str {
        match self {
            Component::WebServer => "web-server",
            Component::CeleryWorker => "celery-worker",
            Component::CeleryBeat => "celery-beat",
            Component::CeleryFlower => "celery-flower",
            Component::McpServer => "mcp-server",
            Component::WebsocketServer => "websocket-server",
        }
    }

    /// Name of the component's field in the `Superset` spec and key in `status.components`.
    pub fn field(self) -> &'static str {
        match self {
            Component::WebServer => "webServer",
            Component::CeleryWorker => "celeryWorker",
            Component::CeleryBeat => "celeryBeat",
            Component::CeleryFlower => "celeryFlower",
            Component::McpServer => "mcpServer",
            Component::WebsocketServer => "websocketServer",
        }
    }

    /// Kind of the component's child resource.
    pub fn kind(self) -> &'static str {
        match self {
            Component::WebServer => "SupersetWebServer",
            Component::CeleryWorker => "SupersetCeleryWorker",
            Component::CeleryBeat => "SupersetCeleryBeat",
            Component::CeleryFlower => "SupersetCeleryFlower",
            Component::McpServer => "SupersetMcpServer",
            Component::WebsocketServer => "SupersetWebsocketServer",
        }
    }

    /// Runs Superset's Python code and reads a rendered `superset_config.py`.
    pub fn is_python(self) -> bool {
        self != Component::WebsocketServer
    }

    /// Can run more than one replica (and so have an autoscaler and a disruption budget).
    pub fn is_scalable(self) -> bool {
        self != Component::CeleryBeat
    }

    /// The port it serves on, if it serves any.
    pub fn default_port(self) -> Option<DefaultPort> {
        match self {
            Component::WebServer => Some(DefaultPort {
                port: 8088,
                name: "http",
            }),
            Component::CeleryFlower => Some(DefaultPort {
                port: 5555,
                name: "http",
            }),
            Component::McpServer => Some(DefaultPort {
                port: 8088,
                name: "mcp",
            }),
            Component::WebsocketServer => Some(DefaultPort {
                port: 8080,
                name: "ws",
            }),
            Component::CeleryWorker | Component::CeleryBeat => None,
        }
    }

    /// Path under which Ingress and Gateway routes publish it when the user sets none.
    pub fn default_route_path(self) -> Option<&'static str> {
        match self {
            Component::WebServer => Some("/"),
            Component::CeleryFlower => Some("/flower"),
            Component::McpServer => Some("/mcp"),
            Component::WebsocketServer => Some("/ws"),
            Component::CeleryWorker | Component::CeleryBeat => None,
        }
    }
}

/// Facts about each lifecycle task.
pub trait TaskFacts {
    /// Every task, in the order the pipeline runs them.
    const ORDER: [TaskType; 4] = [
        TaskType::Seed,
        TaskType::Migrate,
        TaskType::Rotate,
        TaskType::Init,
    ];
    /// Suffix of the task's names (`<superset>-<suffix>`).
    fn suffix(self) -> &'static str;
    /// Whether the task stops every component before it runs, unless told otherwise.
    fn drains_by_default(self) -> bool;
}

impl TaskFacts for TaskType {
    fn suffix(self) -> &'static str {
        match self {
            TaskType::Seed => "seed",
            TaskType::Migrate => "migrate",
            TaskType::Rotate => "rotate",
            TaskType::Init => "init",
        }
    }

    fn drains_by_default(self) -> bool {
        !matches!(self, TaskType::Init)
    }
}
