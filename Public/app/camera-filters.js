// The camera's colour looks (issue 14), drawn from a <video> onto a <canvas> every frame:
// WebGL with one fragment shader (the look is a uniform), or — where WebGL is not available —
// the 2D canvas with CSS filters and a gradient for the vignette. Both keep the drawing
// buffer, so the picture on the canvas can be captured (toBlob) and read back.

/** The looks, in the order they are offered; the i18n key of each is `filter<Name>`. */
export const FILTERS = ['original', 'mono', 'sepia', 'warm', 'cold', 'vignette'];

const VERTEX = `
attribute vec2 a_pos;
varying vec2 v_uv;
uniform float u_mirror;
void main() {
  v_uv = vec2(u_mirror > 0.5 ? 1.0 - (a_pos.x * 0.5 + 0.5) : a_pos.x * 0.5 + 0.5, 0.5 - a_pos.y * 0.5);
  gl_Position = vec4(a_pos, 0.0, 1.0);
}`;

const FRAGMENT = `
precision mediump float;
varying vec2 v_uv;
uniform sampler2D u_frame;
uniform int u_look;
void main() {
  vec3 c = texture2D(u_frame, v_uv).rgb;
  float l = dot(c, vec3(0.299, 0.587, 0.114));
  if (u_look == 1) {
    c = vec3(l);
  } else if (u_look == 2) {
    c = clamp(vec3(dot(c, vec3(0.393, 0.769, 0.189)), dot(c, vec3(0.349, 0.686, 0.168)), dot(c, vec3(0.272, 0.534, 0.131))), 0.0, 1.0);
  } else if (u_look == 3) {
    c = clamp(c * vec3(1.12, 1.02, 0.82) + vec3(0.04, 0.01, 0.0), 0.0, 1.0);
  } else if (u_look == 4) {
    c = clamp(c * vec3(0.84, 0.98, 1.16) + vec3(0.0, 0.01, 0.05), 0.0, 1.0);
  } else if (u_look == 5) {
    float d = distance(v_uv, vec2(0.5));
    c *= smoothstep(0.85, 0.3, d);
  }
  gl_FragColor = vec4(c, 1.0);
}`;

// 2D fallback: CSS filter strings per look (the vignette is a gradient drawn on top).
const CSS = {
  original: 'none', mono: 'grayscale(1)', sepia: 'sepia(1)', warm: 'sepia(.25) saturate(1.25) brightness(1.04)',
  cold: 'saturate(.85) hue-rotate(12deg) brightness(1.02)', vignette: 'none',
};

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader) || 'shader');
  return shader;
}

function webgl(canvas) {
  const gl = canvas.getContext('webgl', { preserveDrawingBuffer: true, antialias: false, alpha: false });
  if (!gl) return null;
  const program = gl.createProgram();
  gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
  gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(program) || 'program');
  gl.useProgram(program);
  const buffer = gl.createBuffer();
  gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
  gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1, -1, 1, -1, -1, 1, 1, 1]), gl.STATIC_DRAW);
  const pos = gl.getAttribLocation(program, 'a_pos');
  gl.enableVertexAttribArray(pos);
  gl.vertexAttribPointer(pos, 2, gl.FLOAT, false, 0, 0);
  const texture = gl.createTexture();
  gl.bindTexture(gl.TEXTURE_2D, texture);
  // Video sizes are rarely powers of two: no mipmaps, clamped edges.
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.LINEAR);
  gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.LINEAR);
  const look = gl.getUniformLocation(program, 'u_look');
  const mirror = gl.getUniformLocation(program, 'u_mirror');
  return {
    kind: 'webgl',
    draw(source, filter, mirrored) {
      gl.viewport(0, 0, canvas.width, canvas.height);
      gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGB, gl.RGB, gl.UNSIGNED_BYTE, source);
      gl.uniform1i(look, Math.max(0, FILTERS.indexOf(filter)));
      gl.uniform1f(mirror, mirrored ? 1 : 0);
      gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
    },
    destroy() {
      gl.deleteTexture(texture);
      gl.deleteBuffer(buffer);
      gl.deleteProgram(program);
    },
  };
}

function canvas2d(canvas) {
  const g = canvas.getContext('2d');
  if (!g) return null;
  return {
    kind: '2d',
    draw(source, filter, mirrored) {
      const { width: w, height: ht } = canvas;
      g.save();
      g.filter = CSS[filter] || 'none';
      if (mirrored) { g.translate(w, 0); g.scale(-1, 1); }
      g.drawImage(source, 0, 0, w, ht);
      g.restore();
      if (filter === 'vignette') {
        const r = Math.hypot(w, ht) / 2;
        const shade = g.createRadialGradient(w / 2, ht / 2, r * 0.45, w / 2, ht / 2, r);
        shade.addColorStop(0, 'rgba(0,0,0,0)');
        shade.addColorStop(1, 'rgba(0,0,0,.85)');
        g.fillStyle = shade;
        g.fillRect(0, 0, w, ht);
      }
    },
    destroy() {},
  };
}

/**
 * A renderer for `canvas`: {kind: 'webgl' | '2d', draw(source, filter, mirrored), destroy()}.
 * WebGL unless it is missing or fails (or `prefer2d`); null when the canvas draws nothing.
 */
export function createRenderer(canvas, { prefer2d = false } = {}) {
  if (!prefer2d) {
    try {
      const r = webgl(canvas);
      if (r) return r;
    } catch (e) {
      console.warn('camera: WebGL failed, using the 2D canvas:', e);
    }
  }
  // A canvas that gave out a WebGL context cannot give a 2D one: the caller makes a new canvas.
  return canvas2d(canvas);
}
