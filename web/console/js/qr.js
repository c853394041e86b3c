// Reading a device's secure ID from its QR code (`niobium keys qr`: "nb:sid:" and 30 hex
// digits) with jsQR (bundled): from an image file the operator uploads, or from the camera
// where the browser offers one.

// The secure ID in a QR payload, or null.
export function secureIdOf(text) {
  const m = /^(?:nb:sid:)?([0-9a-fA-F]{30})$/.exec((text || '').trim());
  return m ? m[1].toLowerCase() : null;
}

function decodePixels(img, w, h) {
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext('2d', { willReadFrequently: true });
  g.drawImage(img, 0, 0, w, h);
  const data = g.getImageData(0, 0, w, h);
  const code = window.jsQR(data.data, w, h, { inversionAttempts: 'attemptBoth' });
  return code ? code.data : null;
}

// The text of the QR code in an image file; throws with a sentence when there is none.
export async function readQrFile(file) {
  let bmp;
  try {
    bmp = await createImageBitmap(file);
  } catch {
    throw new Error('this file is not an image the browser can read (PNG, JPEG…)');
  }
  // Large photos are scaled down: jsQR needs no more than about 1000 pixels a side.
  const scale = Math.min(1, 1000 / Math.max(bmp.width, bmp.height));
  const text = decodePixels(bmp, Math.round(bmp.width * scale), Math.round(bmp.height * scale));
  bmp.close();
  if (text === null) throw new Error('no QR code was found in this image');
  return text;
}

export const hasCamera = () => !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

// Scans with the camera into `video` until a QR code is read or stop() is called; resolves
// with its text (null when stopped).
export function scanCamera(video) {
  let stopped = false;
  let stream = null;
  let done;
  const result = new Promise((resolve) => (done = resolve));
  const finish = (text) => {
    if (stopped) return;
    stopped = true;
    if (stream) for (const t of stream.getTracks()) t.stop();
    video.srcObject = null;
    done(text);
  };
  navigator.mediaDevices
    .getUserMedia({ video: { facingMode: 'environment' }, audio: false })
    .then(async (s) => {
      stream = s;
      if (stopped) return finish(null);
      video.srcObject = s;
      await video.play();
      const tick = () => {
        if (stopped) return;
        if (video.videoWidth) {
          const text = decodePixels(video, video.videoWidth, video.videoHeight);
          if (text) return finish(text);
        }
        setTimeout(tick, 200);
      };
      tick();
    })
    .catch((e) => {
      stopped = true;
      done(Promise.reject(new Error(`the camera cannot be used (${e.message})`)));
    });
  return { result, stop: () => finish(null) };
}
