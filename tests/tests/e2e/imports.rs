//! The components' declared capabilities follow their worlds: the audit's
//! lists are derived from `wit/plugin.wit`, the full component imports only
//! what world `plugin` declares, and the mapping component imports no
//! `wasi:http` at all, so a host with no network can run it.

use std::sync::OnceLock;

use llm_metrics_host::EMBEDDED_MAPPING_COMPONENT;
use llm_metrics_host::audit::{World, check_imports, imports};
use llm_metrics_host::plugin::shared_engine;
use wasmtime::Store;
use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::common::{component, fixture};

fn mapping_component() -> &'static Component {
    static C: OnceLock<Component> = OnceLock::new();
    C.get_or_init(|| {
        Component::from_binary(&shared_engine().unwrap(), EMBEDDED_MAPPING_COMPONENT)
            .expect("the mapping component compiles")
    })
}

#[test]
fn the_worlds_nest_and_only_the_plugin_world_reaches_the_network() {
    let mapping = World::Mapping.imports();
    let plugin = World::Plugin.imports();
    let service = World::Service.imports();
    assert!(mapping.iter().all(|i| plugin.contains(i)), "{mapping:?}");
    assert_eq!(plugin, service, "service adds an export, not an import");
    assert!(
        !mapping.iter().any(|i| i.starts_with("wasi:http/")),
        "{mapping:?}"
    );
    assert!(
        plugin.contains(&"wasi:http/outgoing-handler@0.2.12"),
        "{plugin:?}"
    );
    // `use`d interfaces are part of the world: http types, io, our types.
    for needed in [
        "wasi:http/types@0.2.12",
        "wasi:io/streams@0.2.12",
        "llm-metrics:plugin/types@0.5.0",
    ] {
        assert!(plugin.contains(&needed), "{needed} in {plugin:?}");
    }
    for world in World::ALL {
        let imports = world.imports();
        assert!(
            !imports
                .iter()
                .any(|i| i.starts_with("wasi:filesystem") || i.starts_with("wasi:sockets")),
            "{world:?}: {imports:?}"
        );
    }
    assert!(
        World::Service
            .exports()
            .contains(&"wasi:http/incoming-handler@0.2.12")
    );
    assert!(
        !World::Plugin
            .exports()
            .iter()
            .any(|e| e.starts_with("wasi:"))
    );
}

#[test]
fn the_full_component_imports_what_the_plugin_world_declares() {
    let engine = shared_engine().unwrap();
    let names = imports(&engine, component());
    assert!(!names.is_empty());
    for name in &names {
        assert!(World::Plugin.allows(name), "unexpected import {name}");
    }
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("wasi:http/outgoing-handler@")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("wasi:http/incoming-handler")),
        "{names:?}"
    );
    check_imports(&engine, component(), World::Plugin).unwrap();
    check_imports(&engine, component(), World::Service).unwrap();
    // A mapping-world host refuses it, naming the capability.
    let err = check_imports(&engine, component(), World::Mapping).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("wasi:http/outgoing-handler"), "{message}");
    assert!(message.contains("`mapping` world"), "{message}");
}

#[test]
fn the_mapping_component_imports_no_http() {
    let engine = shared_engine().unwrap();
    let names = imports(&engine, mapping_component());
    assert!(
        !names.iter().any(|n| n.starts_with("wasi:http")),
        "{names:?}"
    );
    check_imports(&engine, mapping_component(), World::Mapping).unwrap();
}

struct Wasi {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Wasi {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A host that links WASI but no `wasi:http` at all instantiates the mapping
/// component and maps a fixture through its `mapper` export.
#[tokio::test]
async fn the_mapping_component_runs_in_a_host_without_http() {
    let engine = shared_engine().unwrap();
    let mut linker = Linker::<Wasi>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    let mut store = Store::new(
        &engine,
        Wasi {
            ctx: WasiCtx::builder().build(),
            table: ResourceTable::new(),
        },
    );
    // The shared engine interrupts on epochs; give this call plenty of them.
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = linker
        .instantiate_async(&mut store, mapping_component())
        .await
        .expect("instantiates with no wasi:http in the linker");
    let mapper = instance
        .get_export_index(&mut store, None, "llm-metrics:plugin/mapper@0.5.0")
        .expect("exports mapper");
    let func = instance
        .get_export_index(&mut store, Some(&mapper), "map-exposition")
        .and_then(|i| instance.get_func(&mut store, i))
        .expect("map-exposition");
    let text = fixture("vllm_v1.prom")
        .into_iter()
        .map(Val::U8)
        .collect::<Vec<_>>();
    let args = [
        Val::List(text),
        Val::Option(None),
        Val::String("auto".into()),
        Val::String("pod-1".into()),
    ];
    let mut results = [Val::Bool(false)];
    func.call_async(&mut store, &args, &mut results)
        .await
        .unwrap();
    let Val::Result(Ok(Some(snapshot))) = &results[0] else {
        panic!("map-exposition failed: {:?}", results[0]);
    };
    let Val::Record(fields) = snapshot.as_ref() else {
        panic!("not a record: {snapshot:?}");
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(field("engine"), Some(Val::String("vllm".into())));
    assert_eq!(field("instance-id"), Some(Val::String("pod-1".into())));
}
