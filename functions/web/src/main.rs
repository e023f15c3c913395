//! Web: the Hawkins web app behind the function's URL. The router lives in the library
//! (`hawkins_web::router`); this file builds its parts from the environment.

#[cfg(feature = "lambda")]
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    hawkins_web::aws::lambda_main().await
}

#[cfg(not(feature = "lambda"))]
fn main() {
    eprintln!("the web function is built with its `lambda` feature");
}
