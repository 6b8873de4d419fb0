//! Prints where this build put the component, for hosts in other languages
//! (Node through jco, Python through wasmtime-py, `wasmtime serve`, Spin):
//!
//! ```sh
//! cargo run -q -p llm-metrics-host --example component_path            # world `service`
//! cargo run -q -p llm-metrics-host --example component_path -- mapping # world `mapping`
//! ```

fn main() {
    let path = match std::env::args().nth(1).as_deref() {
        None | Some("service") | Some("plugin") => llm_metrics_host::COMPONENT_PATH,
        Some("mapping") => llm_metrics_host::MAPPING_COMPONENT_PATH,
        Some(other) => {
            eprintln!("error: unknown world {other:?}; expected service, plugin or mapping");
            std::process::exit(2);
        }
    };
    println!("{path}");
}
