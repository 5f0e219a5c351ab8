from setuptools import find_packages, setup

PACKAGE = 'device_sr'

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='t2i-edge maintainers',
    maintainer_email='maintainers@t2i-edge.dev',
    description='Device stage: lightweight Real-ESRGAN super-resolution of background patches.',
    license='Apache-2.0',
    entry_points={'console_scripts': [
        'device_sr_node = device_sr.device_sr_node:main',
        't2i_convert_realesrgan = device_sr.ncnn_convert:main',
    ]},
)
