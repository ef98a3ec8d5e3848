// nbody.rs — twin of bench/programs/nbody.mir: the Benchmarks Game n-body
// simulation (Sun and four gas giants, dt = 0.01), N steps, with the bodies'
// state in one flat Vec<f64>, 7 values per body: x, y, z, vx, vy, vz, mass.
// Prints the energy before and after, each with 9 decimals, on one line.
const PI: f64 = 3.141592653589793;
const SOLAR_MASS: f64 = 4.0 * PI * PI;
const DAYS_PER_YEAR: f64 = 365.24;

#[allow(clippy::too_many_arguments)]
fn body(b: &mut Vec<f64>, x: f64, y: f64, z: f64, vx: f64, vy: f64, vz: f64, mass: f64) {
    b.push(x);
    b.push(y);
    b.push(z);
    b.push(vx * DAYS_PER_YEAR);
    b.push(vy * DAYS_PER_YEAR);
    b.push(vz * DAYS_PER_YEAR);
    b.push(mass * SOLAR_MASS);
}

fn offset_momentum(b: &mut [f64], nb: usize) {
    let (mut px, mut py, mut pz) = (0.0, 0.0, 0.0);
    for i in 0..nb {
        let base = i * 7;
        let m = b[base + 6];
        px += b[base + 3] * m;
        py += b[base + 4] * m;
        pz += b[base + 5] * m;
    }
    b[3] = px * -1.0 / SOLAR_MASS;
    b[4] = py * -1.0 / SOLAR_MASS;
    b[5] = pz * -1.0 / SOLAR_MASS;
}

fn energy(b: &[f64], nb: usize) -> f64 {
    let mut e = 0.0;
    for i in 0..nb {
        let bi = i * 7;
        let (xi, yi, zi) = (b[bi], b[bi + 1], b[bi + 2]);
        let (vx, vy, vz) = (b[bi + 3], b[bi + 4], b[bi + 5]);
        let mi = b[bi + 6];
        e += 0.5 * mi * (vx * vx + vy * vy + vz * vz);
        for j in i + 1..nb {
            let bj = j * 7;
            let dx = xi - b[bj];
            let dy = yi - b[bj + 1];
            let dz = zi - b[bj + 2];
            let dist = (dx * dx + dy * dy + dz * dz).sqrt();
            e -= mi * b[bj + 6] / dist;
        }
    }
    e
}

fn advance(b: &mut [f64], nb: usize, dt: f64) {
    for i in 0..nb {
        let bi = i * 7;
        let (xi, yi, zi) = (b[bi], b[bi + 1], b[bi + 2]);
        let mi = b[bi + 6];
        for j in i + 1..nb {
            let bj = j * 7;
            let dx = xi - b[bj];
            let dy = yi - b[bj + 1];
            let dz = zi - b[bj + 2];
            let d2 = dx * dx + dy * dy + dz * dz;
            let mag = dt / (d2 * d2.sqrt());
            let mj = b[bj + 6];
            b[bi + 3] -= dx * mj * mag;
            b[bi + 4] -= dy * mj * mag;
            b[bi + 5] -= dz * mj * mag;
            b[bj + 3] += dx * mi * mag;
            b[bj + 4] += dy * mi * mag;
            b[bj + 5] += dz * mi * mag;
        }
    }
    for k in 0..nb {
        let bk = k * 7;
        b[bk] += dt * b[bk + 3];
        b[bk + 1] += dt * b[bk + 4];
        b[bk + 2] += dt * b[bk + 5];
    }
}

fn main() {
    let n: i64 = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(250000);
    let mut b: Vec<f64> = Vec::new();
    body(&mut b, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0);
    body(&mut b, 4.841431442464721, -1.1603200440274284, -0.10362204447112311,
         0.001660076642744037, 0.007699011184197404, -6.90460016972063e-05, 0.0009547919384243266);
    body(&mut b, 8.34336671824458, 4.124798564124305, -0.4035234171143214,
         -0.002767425107268624, 0.004998528012349172, 2.3041729757376393e-05, 0.0002858859806661308);
    body(&mut b, 12.894369562139131, -15.111151401698631, -0.22330757889265573,
         0.002964601375647616, 0.0023784717395948095, -2.9658956854023756e-05, 4.366244043351563e-05);
    body(&mut b, 15.379697114850917, -25.919314609987964, 0.17925877295037118,
         0.0026806777249038932, 0.001628241700382423, -9.515922545197159e-05, 5.1513890204661145e-05);
    offset_momentum(&mut b, 5);
    let e0 = energy(&b, 5);
    for _ in 0..n {
        advance(&mut b, 5, 0.01);
    }
    let e1 = energy(&b, 5);
    println!("{:.9} {:.9}", e0, e1);
}
