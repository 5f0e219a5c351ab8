"""numpy <-> message payloads without cv_bridge (the PyPI cv_bridge is broken with NumPy 2).

Large arrays go through ``tobytes()`` / ``np.frombuffer``: assigning a numpy array to a message field
element-wise is ~75x slower for multi-MB payloads.
"""
from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4}


def image_to_msg(image: np.ndarray, frame_id: str = '', stamp=None) -> Image:
    """An HxWx3 uint8 RGB array as a ``sensor_msgs/Image`` (rgb8)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'expected an HxWx3 uint8 image, got {image.dtype} {image.shape}')
    msg = Image()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
    msg.encoding = 'rgb8'
    msg.is_bigendian = 0
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(image).tobytes()
    return msg


def msg_to_image(msg: Image) -> np.ndarray:
    """A ``sensor_msgs/Image`` (rgb8/bgr8/mono8/rgba8) as an HxWx3 uint8 RGB array (a copy-free view when rgb8)."""
    channels = _CHANNELS.get(msg.encoding)
    if channels is None:
        raise ValueError(f'unsupported image encoding {msg.encoding!r}')
    expected = msg.height * msg.step
    buffer = np.frombuffer(msg.data, np.uint8)  # rclpy gives array.array('B'): no copy
    if msg.step < msg.width * channels or buffer.size != expected:
        raise ValueError(f'image data has {buffer.size} bytes, expected {expected} '
                         f'({msg.height} rows x step {msg.step})')
    rows = buffer.reshape(msg.height, msg.step)[:, :msg.width * channels]
    pixels = rows.reshape(msg.height, msg.width, channels)
    if msg.encoding == 'bgr8':
        return pixels[..., ::-1]
    if msg.encoding == 'mono8':
        return np.repeat(pixels, 3, axis=2)
    if msg.encoding == 'rgba8':
        return pixels[..., :3]
    return pixels


def image_to_compressed(image: np.ndarray, encoding: str = 'png', jpeg_quality: int = 95) -> CompressedImage:
    """An RGB array as ``sensor_msgs/CompressedImage`` (png is lossless; jpeg trades detail for bandwidth)."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if encoding == 'jpeg' else []
    ok, encoded = cv2.imencode('.' + encoding, np.ascontiguousarray(image[..., ::-1]), params)
    if not ok:
        raise ValueError(f'could not encode image as {encoding}')
    msg = CompressedImage()
    msg.format = f'rgb8; {encoding} compressed bgr8'
    msg.data = encoded.tobytes()
    return msg


def compressed_to_image(msg: CompressedImage) -> np.ndarray:
    import cv2

    decoded = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError(f'could not decode compressed image ({msg.format!r})')
    return decoded[..., ::-1]


def array_to_bytes_fields(array: np.ndarray) -> tuple[list[int], str, bytes]:
    """(shape, dtype name, bytes) of a tensor, for messages that carry raw tensors such as the latent."""
    contiguous = np.ascontiguousarray(array)
    return [int(s) for s in contiguous.shape], contiguous.dtype.name, contiguous.tobytes()


def bytes_fields_to_array(shape, dtype: str, data) -> np.ndarray:
    """Inverse of :func:`array_to_bytes_fields`; validates the size so a malformed message fails clearly."""
    try:
        element = np.dtype(dtype)
    except TypeError as error:
        raise ValueError(f'unknown tensor dtype {dtype!r}') from error
    buffer = np.frombuffer(data, element)
    count = int(np.prod(shape)) if len(shape) else 0
    if buffer.size != count or count == 0:
        raise ValueError(f'tensor has {buffer.size} elements, shape {list(shape)} needs {count}')
    return buffer.reshape(tuple(int(s) for s in shape))
